// The badge saying which model runs (and where prompts are decoded).

const SOURCES = {
  official: 'official checkpoint',
  bundled: 'bundled with segany',
  checkpoint: 'checkpoint file',
  random: 'random weights',
};

export function renderModelBadge(badge, info, decoder) {
  const model = info.model;
  const source = SOURCES[model.source] ?? model.source;
  badge.textContent = `${model.name} · ${source} · ${model.image_size} px · decoding: ${decoder}`;
  badge.title = `segany ${info.version}; weights fingerprint ${model.fingerprint}`;
  badge.dataset.model = model.name;
}
