// One tab per file (the WAI-ARIA tabs pattern: arrow keys, Home and End move between tabs),
// each panel a CodeMirror view; "Add a module" opens a small inline form for the new file's
// name, and an added module's panel has a button that removes it.

import { element } from "./dom.js";
import { FIXED_FILES, moduleNameProblem } from "./files.js";
import { createView } from "./setup.js";

let counter = 0;

export function createTabs({ nonce, describedBy, maxModules, announce, onChange }) {
  const root = element("div", { class: "editor-tabs" });
  const bar = element("div", { class: "editor-tabbar" });
  const list = element("div", { role: "tablist", "aria-label": "Files", class: "editor-tablist" });
  const addToggle = element(
    "button",
    { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": "editor-add" },
    "Add a module",
  );
  bar.append(list, addToggle);

  const addBox = element("div", { class: "editor-add", id: "editor-add" });
  addBox.hidden = true;
  const addLabel = element("label", { for: "editor-add-name" }, "New module's file name");
  const addName = element("input", {
    id: "editor-add-name",
    type: "text",
    maxlength: "100",
    spellcheck: "false",
    autocapitalize: "off",
    "aria-describedby": "editor-add-help editor-add-error",
  });
  const addHelp = element("p", { class: "muted small", id: "editor-add-help" });
  addHelp.append("Such as ", element("code", {}, "features.py"), "; main.py and train.py import it with ", element("code", {}, "import features"), ".");
  const addError = element("p", { class: "error small", id: "editor-add-error", role: "alert" });
  const addButton = element("button", { type: "button" }, "Add");
  const addCancel = element("button", { type: "button", class: "secondary" }, "Cancel");
  const addActions = element("p", { class: "editor-add-actions" });
  addActions.append(addButton, " ", addCancel);
  addBox.append(addLabel, addName, addHelp, addError, addActions);
  const panels = element("div", { class: "editor-panels" });
  root.append(bar, addBox, panels);

  let entries = [];
  let selected = null;

  function select(entry, focusTab) {
    selected = entry;
    for (const other of entries) {
      const on = other === entry;
      other.tab.setAttribute("aria-selected", on ? "true" : "false");
      other.tab.tabIndex = on ? 0 : -1;
      other.panel.hidden = !on;
    }
    entry.view.requestMeasure();
    if (focusTab) entry.tab.focus();
  }

  function addEntry(name, text) {
    counter += 1;
    const tabId = "editor-tab-" + counter;
    const panelId = "editor-panel-" + counter;
    const tab = element("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId, class: "editor-tab" });
    tab.append(element("code", {}, name));
    const panel = element("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, class: "editor-panel" });
    const host = element("div", { class: "editor-host" });
    panel.append(host);
    const view = createView({ parent: host, name, text, nonce, describedBy, onChange });
    const entry = { name, tab, panel, view };
    if (!FIXED_FILES.includes(name)) {
      const remove = element("button", { type: "button", class: "secondary small-button" }, "Remove " + name);
      remove.addEventListener("click", () => removeEntry(entry));
      const row = element("p", { class: "editor-remove" });
      row.append(remove);
      panel.append(row);
    }
    tab.addEventListener("click", () => select(entry, false));
    list.append(tab);
    panels.append(panel);
    entries.push(entry);
    return entry;
  }

  function removeEntry(entry) {
    if (entry.view.state.doc.length && !window.confirm("Remove " + entry.name + " and its code from the editor?")) return;
    const index = entries.indexOf(entry);
    entries.splice(index, 1);
    entry.view.destroy();
    entry.tab.remove();
    entry.panel.remove();
    select(entries[Math.max(0, index - 1)], true);
    announce(entry.name + " was removed.");
    onChange();
  }

  list.addEventListener("keydown", (event) => {
    const index = entries.indexOf(selected);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: entries.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    select(entries[(moves[event.key] + entries.length) % entries.length], true);
  });

  function openAdd(open) {
    addBox.hidden = !open;
    addToggle.setAttribute("aria-expanded", open ? "true" : "false");
    addError.textContent = "";
    if (open) addName.focus();
    else addToggle.focus();
  }

  function addModule() {
    const name = addName.value.trim();
    const problem = moduleNameProblem(
      name,
      entries.map((entry) => entry.name),
      maxModules,
    );
    if (problem) {
      addError.textContent = problem;
      addName.focus();
      return;
    }
    const entry = addEntry(name, "");
    addName.value = "";
    openAdd(false);
    select(entry, false);
    entry.view.focus();
    announce(name + " was added as a new tab.");
    onChange();
  }

  addToggle.addEventListener("click", () => openAdd(addBox.hidden));
  addCancel.addEventListener("click", () => openAdd(false));
  addButton.addEventListener("click", addModule);
  addName.addEventListener("keydown", (event) => {
    // Enter adds the module; it must not submit the surrounding form.
    if (event.key === "Enter") {
      event.preventDefault();
      addModule();
    } else if (event.key === "Escape") {
      openAdd(false);
    }
  });

  return {
    element: root,
    load(files) {
      for (const entry of entries) {
        entry.view.destroy();
        entry.tab.remove();
        entry.panel.remove();
      }
      entries = [];
      // The three fixed files always have a tab, first and in order; then the modules.
      const texts = new Map(files);
      for (const name of FIXED_FILES) addEntry(name, texts.get(name) || "");
      for (const [name, text] of files) if (!FIXED_FILES.includes(name)) addEntry(name, text);
      select(entries[0], false);
    },
    files() {
      return entries.map((entry) => [entry.name, entry.view.state.doc.toString()]);
    },
  };
}
