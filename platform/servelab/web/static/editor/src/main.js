// The exercise page's code editor: progressive enhancement of the plain editor form
// (templates/exercise.html). One CodeMirror tab per file (train.py, main.py, requirements.txt
// and any added module), a draft of unsaved edits in this browser, and on submit every tab
// copied back into the form's fields, so the server reads the same form with or without it.

import { element } from "./dom.js";
import { draftToRestore, dropDraft, saveDraft } from "./drafts.js";
import { FIXED_FILES, filesFromForm, mirrorIntoForm } from "./files.js";
import { createTabs } from "./tabs.js";

// Read while this (deferred, classic) script runs: currentScript is null afterwards.
const script = document.currentScript;
const nonce = script ? script.nonce : "";
const SAVE_DELAY_MS = 400;

function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function enhance(form) {
  const fields = form.querySelector("#editor-fields");
  if (!fields) return;
  const key = form.dataset.draftKey;
  const maxModules = Number(form.dataset.maxModules) || 20;
  const latest = Number(form.dataset.latestSubmission) || 0;
  const refused = form.dataset.refused === "true";
  const maxFiles = FIXED_FILES.length + maxModules;

  const root = element("div", { class: "code-editor" });
  const help = element(
    "p",
    { class: "muted small", id: "editor-keys" },
    "Tab indents. To leave the editor by keyboard press Esc, then Tab (Ctrl-M, or Shift-Alt-M on a Mac, makes Tab move focus until pressed again). Ctrl-F searches.",
  );
  const status = element("p", { class: "editor-status small", "aria-live": "polite", id: "editor-status" });
  const saved = element("span", { class: "muted", id: "editor-saved" });
  const discard = element("button", { type: "button", class: "secondary small-button", id: "editor-discard" }, "Discard my edits");
  const footer = element("p", { class: "editor-footer small" });
  footer.append(saved, " ", discard);

  let saveTimer = 0;
  const tabs = createTabs({
    nonce: nonce,
    describedBy: "editor-keys",
    maxModules: maxModules,
    announce: (message) => {
      status.textContent = message;
    },
    onChange: () => {
      window.clearTimeout(saveTimer);
      saveTimer = window.setTimeout(save, SAVE_DELAY_MS);
    },
  });

  // Stores the draft, and copies the tabs into the form's fields: the form always holds
  // what the tabs show (and the browser's own form restoration keeps that too).
  function save() {
    window.clearTimeout(saveTimer);
    saveTimer = 0;
    const files = tabs.files();
    mirrorIntoForm(form, files);
    if (saveDraft(key, files)) {
      saved.textContent = "Your edits are kept in this browser until you submit them (saved " + formatTime(Date.now()) + ").";
    } else {
      saved.textContent = "This browser does not keep drafts (storage full or switched off): copy your work somewhere safe before you leave.";
    }
    discard.hidden = false;
  }

  // The text areas are replaced by the tabs; they stay in the form to carry the files.
  root.append(help, tabs.element, status, footer);
  fields.before(root);
  fields.hidden = true;
  for (const area of fields.querySelectorAll("[required]")) area.removeAttribute("required");

  // What the page came with (the starter, or a refused submission's files) and what its
  // fields hold now (the same, unless the browser restored typed text on a reload).
  const initialFiles = filesFromForm(form, true);
  const pageFiles = filesFromForm(form, false);
  const draft = refused ? null : draftToRestore(key, maxFiles, latest);
  tabs.load(draft ? draft.files : pageFiles);
  mirrorIntoForm(form, tabs.files());
  if (draft) {
    status.textContent = "Restored your unsaved edits from " + formatTime(draft.savedAt) + ".";
    saved.textContent = "Your edits are kept in this browser until you submit them.";
  } else if (refused) {
    save(); // what was sent (and refused) is the draft now
  } else {
    discard.hidden = true;
  }

  discard.addEventListener("click", () => {
    if (!window.confirm("Discard your edits in every tab and go back to the files this page came with?")) return;
    window.clearTimeout(saveTimer);
    saveTimer = 0;
    dropDraft(key);
    tabs.load(initialFiles);
    mirrorIntoForm(form, initialFiles);
    saved.textContent = "";
    discard.hidden = true;
    status.textContent = "Your edits were discarded; the tabs show the files this page came with.";
  });

  form.addEventListener("submit", () => {
    window.clearTimeout(saveTimer);
    saveTimer = 0;
    const files = tabs.files();
    mirrorIntoForm(form, files);
    // Kept until the page lists a submission newer than `latest` (drafts.js draftToRestore).
    saveDraft(key, files, latest);
  });
  // Leaving with edits not yet stored (within the save delay): store them now.
  window.addEventListener("pagehide", () => {
    if (saveTimer) save();
  });
}

const form = document.getElementById("editor-form");
if (form) enhance(form);
