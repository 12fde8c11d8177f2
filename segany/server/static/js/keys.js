// Keyboard shortcuts: 1/2/3 choose a candidate, Enter accepts (with the label typed, if any),
// Ctrl+Z / Ctrl+Shift+Z (or Ctrl+Y) undo / redo, Escape resets the current prompt.

export function bindKeys(editor, labelInput) {
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement;
    const ctrl = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if (event.key === 'Enter' && (!typing || event.target === labelInput)) {
      event.preventDefault();
      editor.accept();
    } else if (event.key === 'Escape') {
      if (typing) event.target.blur();
      editor.reset();
    } else if (typing) {
      // ordinary typing into the label field
    } else if (ctrl && key === 'z') {
      event.preventDefault();
      if (event.shiftKey) editor.redo();
      else editor.undo();
    } else if (ctrl && key === 'y') {
      event.preventDefault();
      editor.redo();
    } else if (!ctrl && ['1', '2', '3'].includes(event.key)) {
      editor.choose(Number(event.key) - 1);
    }
  });
}
