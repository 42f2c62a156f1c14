// The CodeMirror 6 extensions for one file: line numbers, Python highlighting, search,
// undo history, and Tab that indents (Esc then Tab, or Ctrl-M, moves focus on instead).

import { EditorView, minimalSetup } from "codemirror";
import { python } from "@codemirror/lang-python";
import { indentWithTab } from "@codemirror/commands";
import { bracketMatching, indentOnInput, indentUnit } from "@codemirror/language";
import { search, searchKeymap } from "@codemirror/search";
import { EditorState } from "@codemirror/state";
import { highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";

// CodeMirror writes its theme into <style> elements; the page's Content-Security-Policy
// allows them only with this page's nonce (web/security_headers.py).
function cspNonce(nonce) {
  return nonce ? [EditorView.cspNonce.of(nonce)] : [];
}

export function fileExtensions({ name, nonce, describedBy, onChange }) {
  return [
    minimalSetup,
    lineNumbers(),
    highlightActiveLine(),
    highlightActiveLineGutter(),
    indentOnInput(),
    bracketMatching(),
    search({ top: true }),
    keymap.of([...searchKeymap, indentWithTab]),
    indentUnit.of("    "),
    EditorState.tabSize.of(4),
    name.endsWith(".py") ? python() : [],
    cspNonce(nonce),
    // tabindex 0 changes no tab order (the content is editable, so focusable already), but it
    // tells accessibility checkers (axe's scrollable-region-focusable) that the scrolling
    // editor holds focusable content, which they do not infer from contenteditable.
    EditorView.contentAttributes.of({
      "aria-label": name + " (code editor)",
      "aria-describedby": describedBy,
      tabindex: "0",
    }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) onChange();
    }),
  ];
}

export function createView({ parent, name, text, nonce, describedBy, onChange }) {
  return new EditorView({
    parent: parent,
    state: EditorState.create({ doc: text, extensions: fileExtensions({ name, nonce, describedBy, onChange }) }),
  });
}
