// The one DOM helper: an element with attributes (never `style`: the CSP blocks it) and text.
export function element(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}
