// The editor form's files as plain data, and mirroring them back into the form's fields.
// The form (templates/exercise.html) works without JavaScript; web/editor_form.py reads it.

export const FIXED_FILES = ["train.py", "main.py", "requirements.txt"];
export const MAX_MODULE_NAME = 100;
// The same rule as web/editor_form.py MODULE_NAME: an importable module path.
const MODULE_NAME = /^(?:[A-Za-z_][A-Za-z0-9_]*\/)*[A-Za-z_][A-Za-z0-9_]*\.py$/;

// Why `name` cannot be a new module's file name, or "" when it can.
export function moduleNameProblem(name, taken, maxModules) {
  if (!name) return "Type a file name, such as features.py.";
  if (FIXED_FILES.includes(name)) return name + " has its own tab already.";
  if (name.length > MAX_MODULE_NAME || !MODULE_NAME.test(name)) {
    return "Use letters, digits and underscores, ending in .py (such as features.py or utils/features.py).";
  }
  if (taken.includes(name)) return "There is a module named " + name + " already.";
  if (taken.length - FIXED_FILES.length >= maxModules) {
    return "The editor holds at most " + maxModules + " added modules; put more in a .zip upload.";
  }
  return "";
}

// The files as the server rendered them: [[name, text], ...], the three fixed files first,
// then the added modules (a refused submission's, shown again), the spare pair only if filled.
// `initial` uses the fields' default values (the page as served), not what was typed since.
export function filesFromForm(form, initial) {
  const value = (field) => (initial ? field.defaultValue : field.value);
  const files = [];
  for (const name of FIXED_FILES) {
    const area = form.querySelector('textarea[data-file="' + name + '"]');
    files.push([name, area ? value(area) : ""]);
  }
  for (const set of form.querySelectorAll("[data-module]")) {
    const name = value(set.querySelector("input")).trim();
    const text = value(set.querySelector("textarea"));
    if (name || text.trim()) files.push([name, text]);
  }
  return files;
}

// Copy the editor's files into the form just before it is sent: the fixed files into their
// textareas, the modules as hidden name/code pairs in place of the plain form's fieldsets.
export function mirrorIntoForm(form, files) {
  for (const set of form.querySelectorAll("[data-module]")) set.remove();
  let sent = form.querySelector("[data-sent-modules]");
  if (!sent) {
    sent = document.createElement("div");
    sent.hidden = true;
    sent.setAttribute("data-sent-modules", "");
    form.appendChild(sent);
  }
  sent.replaceChildren();
  for (const [name, text] of files) {
    const area = form.querySelector('textarea[data-file="' + name + '"]');
    if (area) {
      area.value = text;
      continue;
    }
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "module_name";
    input.value = name;
    const code = document.createElement("textarea");
    code.name = "module_text";
    code.value = text;
    sent.append(input, code);
  }
}
