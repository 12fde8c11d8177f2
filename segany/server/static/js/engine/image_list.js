// The project editor's list of the project's images (thumbnails, the current one marked) and uploads into
// the project. Mixed into ProjectEditor's prototype (the methods use its project, images and index).

import * as client from './client.js';

export const ImageListActions = {
  renderImageList() {
    const list = this.$('#image-list');
    list.replaceChildren(...this.images.map((image, i) => {
      const item = document.createElement('li');
      item.dataset.id = String(image.id);
      item.classList.toggle('current', i === this.index);
      const button = document.createElement('button');
      button.type = 'button';
      button.title = `${image.file_name} (${image.width} x ${image.height})`;
      const thumb = document.createElement('img');
      thumb.src = client.imageUrl(this.project.id, image.id);
      thumb.alt = image.file_name;
      thumb.loading = 'lazy';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = `${i + 1}. ${image.file_name}`;
      button.append(thumb, name);
      button.addEventListener('click', () => this.openImage(i).catch((error) => this.report(error)));
      item.append(button);
      return item;
    }));
  },

  async upload(input) {
    for (const file of input.files) {
      try {
        const image = await client.uploadImage(this.project.id, file);
        if (!this.images.some((known) => known.id === image.id)) this.images.push(image);
      } catch (error) {
        this.report(error);
      }
    }
    input.value = '';
    this.renderImageList();
    if (this.index < 0 && this.images.length) await this.openImage(0);
  },
};
