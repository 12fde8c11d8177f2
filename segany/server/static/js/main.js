// Start-up: reads /api/info, builds the page's parts and wires them together.
// URL parameters: ?decoder=server|browser picks where prompts are decoded; ?image=<id> opens a photo;
// ?threads=N sets browser decoding's wasm threads (default: all cores up to 2, then cores - 1, at most 4);
// ?spin=0 stops its idle threads from spinning between runs (they spin by default: lower latency, more CPU).

import * as api from './api.js';
import { BrowserDecoder } from './browser_decoder.js';
import { CandidatesBar } from './candidates.js';
import { Editor } from './editor.js';
import { EverythingPanel } from './everything_panel.js';
import { ExportPanel } from './export_panel.js';
import { Gallery } from './gallery.js';
import { bindKeys } from './keys.js';
import { renderModelBadge } from './model_badge.js';
import { ObjectsPanel } from './objects_panel.js';
import { Renderer } from './renderer.js';
import { Segmenter } from './segmenter.js';
import { createStats } from './stats.js';

const $ = (id) => document.getElementById(id);

async function main() {
  const stats = createStats();
  const status = $('status');
  let info;
  try {
    info = await api.getInfo();
  } catch (error) {
    status.textContent = `Cannot reach the segany server: ${error.message}`;
    status.classList.add('error');
    return;
  }
  const canBrowse = info.decoders.includes('browser');
  const params = new URLSearchParams(window.location.search);
  const threads = Number.parseInt(params.get('threads') ?? '0', 10) || 0;
  const spin = params.get('spin') !== '0';
  const segmenter = new Segmenter(
    canBrowse ? new BrowserDecoder(info.model, info.decoder_files, threads, spin) : null);
  const decoderSelect = $('decoder');
  decoderSelect.querySelector('option[value="browser"]').disabled = !canBrowse;
  const setDecoder = (mode) => {
    segmenter.setMode(mode);
    decoderSelect.value = mode;
    renderModelBadge($('model-badge'), info, mode);
  };
  setDecoder(canBrowse && params.get('decoder') === 'browser' ? 'browser' : 'server');

  const renderer = new Renderer($('stage'));
  window.addEventListener('resize', () => renderer.fit());
  let editor = null;
  const onError = (error) => editor.reportError(error);
  const gallery = new Gallery($('gallery-list'), $('file-input'), document.body,
    (image) => editor.open(image).catch(onError), onError);
  const objectsPanel = new ObjectsPanel($('objects-list'), {
    onSelect: (id) => editor.selectObject(id),
    onToggleHidden: (id) => editor.push({ type: 'hide', objectId: id }),
    onDelete: (id) => editor.push({ type: 'delete', objectId: id }),
  });
  const everythingPanel = new EverythingPanel(
    { preset: $('preset'), run: $('everything-run'), cancel: $('everything-cancel'),
      progress: $('everything-progress'), status: $('everything-status'), show: $('everything-show'),
      overridesBox: $('everything-overrides') },
    info.presets,
    (imageId, result) => editor.setEverything(imageId, result),
    (visible) => editor.toggleEverything(visible),
    onError,
  );
  editor = new Editor({
    renderer,
    segmenter,
    gallery,
    objectsPanel,
    everythingPanel,
    stats,
    candidates: new CandidatesBar($('candidates'), (i) => editor.choose(i)),
    labelInput: $('label-input'),
    status,
    buttons: { undo: $('undo'), redo: $('redo') },
  });
  new ExportPanel($('export'), () => editor.exportRequest(), onError, (text) => editor.setStatus(text));
  bindKeys(editor, $('label-input'));
  $('undo').addEventListener('click', () => editor.undo());
  $('redo').addEventListener('click', () => editor.redo());
  $('reset').addEventListener('click', () => editor.reset());
  $('accept').addEventListener('click', () => editor.accept());
  decoderSelect.addEventListener('change', () => {
    setDecoder(decoderSelect.value);
    if (editor.session) editor.open(editor.session.image).catch(onError);
  });
  window.segany = { editor, info, currentRle: () => editor.currentRle() };

  const images = await gallery.refresh();
  const wanted = images.find((image) => image.id === params.get('image')) ?? images[0];
  if (wanted) await editor.open(wanted);
  else status.textContent = 'No photos yet: upload one (button, drag and drop, or paste).';
  document.body.dataset.ready = '1';
}

main();
