// Unsaved edits kept in this browser (localStorage), one draft per learner and exercise,
// until a submission of them is accepted. Storage can be full, disabled or hold garbage:
// every access is guarded, and a draft that does not look like ours is ignored.

const VERSION = 1;

function isFiles(files, maxFiles) {
  return (
    Array.isArray(files) &&
    files.length <= maxFiles &&
    files.every(
      (pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string",
    )
  );
}

export function loadDraft(key, maxFiles) {
  try {
    const draft = JSON.parse(window.localStorage.getItem(key) || "null");
    if (draft && draft.v === VERSION && isFiles(draft.files, maxFiles)) return draft;
  } catch (error) {
    // Unreadable storage or JSON: no draft.
  }
  return null;
}

// true when the draft was stored; false when the browser refused (full or disabled storage).
export function saveDraft(key, files, sentAfter) {
  const draft = { v: VERSION, files: files, savedAt: Date.now() };
  if (sentAfter !== undefined) draft.sentAfter = sentAfter;
  try {
    window.localStorage.setItem(key, JSON.stringify(draft));
    return true;
  } catch (error) {
    return false;
  }
}

export function dropDraft(key) {
  try {
    window.localStorage.removeItem(key);
  } catch (error) {
    // Nothing to drop.
  }
}

// The draft to start from, given what the page shows. A draft sent with a submission
// (`sentAfter`: the newest submission id the page showed then) is done once a newer
// submission is listed; if none is (the request failed) it is a draft again. A refused
// submission's page shows the sent files itself (main.js).
export function draftToRestore(key, maxFiles, latestSubmission) {
  const draft = loadDraft(key, maxFiles);
  if (!draft) return null;
  if (typeof draft.sentAfter === "number") {
    if (latestSubmission > draft.sentAfter) {
      dropDraft(key);
      return null;
    }
    delete draft.sentAfter;
  }
  return draft;
}
