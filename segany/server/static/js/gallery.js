// The gallery: the server's images as thumbnails, plus uploads by file picker, drag and drop onto the page,
// or paste (Ctrl+V of an image).

import * as api from './api.js';
import { el } from './dom.js';

export class Gallery {
  // onOpen(image) opens an image in the editor; onError(error) reports a failure.
  constructor(list, fileInput, dropTarget, onOpen, onError) {
    this.list = list;
    this.onOpen = onOpen;
    this.onError = onError;
    this.images = [];
    this.currentId = null;
    fileInput.addEventListener('change', () => {
      this.uploadFiles(fileInput.files);
      fileInput.value = '';
    });
    dropTarget.addEventListener('dragover', (event) => {
      event.preventDefault();
      dropTarget.classList.add('dropping');
    });
    dropTarget.addEventListener('dragleave', () => dropTarget.classList.remove('dropping'));
    dropTarget.addEventListener('drop', (event) => {
      event.preventDefault();
      dropTarget.classList.remove('dropping');
      this.uploadFiles(event.dataTransfer?.files ?? []);
    });
    document.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.items ?? [])]
        .filter((item) => item.kind === 'file' && item.type.startsWith('image/'))
        .map((item) => item.getAsFile());
      if (files.length) this.uploadFiles(files);
    });
  }

  async refresh() {
    this.images = await api.listImages();
    this.render();
    return this.images;
  }

  async uploadFiles(files) {
    let last = null;
    for (const file of files) {
      try {
        last = await api.uploadImage(file);
        if (!this.images.some((image) => image.id === last.id)) this.images.push(last);
      } catch (error) {
        this.onError(error);
      }
    }
    this.render();
    if (last) this.onOpen(last);
  }

  // The images after `id` in gallery order (encoded ahead in the background).
  following(id, count) {
    const index = this.images.findIndex((image) => image.id === id);
    return index < 0 ? [] : this.images.slice(index + 1, index + 1 + count);
  }

  select(id) {
    this.currentId = id;
    for (const item of this.list.children) item.classList.toggle('current', item.dataset.id === id);
  }

  render() {
    this.list.replaceChildren(
      ...this.images.map((image) =>
        el('li', { class: image.id === this.currentId ? 'current' : null, dataset: { id: image.id } },
          el('button', { type: 'button', title: `${image.name} (${image.width} x ${image.height})`,
            onclick: () => this.onOpen(image) },
          el('img', { src: api.imageFileUrl(image.id), alt: image.name, loading: 'lazy' }),
          el('span', { class: 'name' }, image.name)))),
    );
  }
}
