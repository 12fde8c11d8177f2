// Export buttons: the server writes every format with segany.formats; the page only downloads the file.

import * as api from './api.js';

export const EXPORT_FORMATS = ['cutout', 'masks_png', 'coco', 'sa1b', 'yolo'];

export class ExportPanel {
  // getExport() -> {imageId, objects: [{size, counts, label, score}], index: int | null} | null
  constructor(container, getExport, onError, onStatus) {
    this.getExport = getExport;
    this.onError = onError;
    this.onStatus = onStatus;
    for (const button of container.querySelectorAll('button[data-format]')) {
      button.addEventListener('click', () => this.download(button.dataset.format));
    }
  }

  async download(format) {
    const request = this.getExport();
    if (!request || request.objects.length === 0) {
      this.onStatus('Nothing to export: accept an object first (Enter).');
      return;
    }
    try {
      const index = format === 'cutout' ? request.index : null;
      const { blob, filename } = await api.exportObjects(request.imageId,
        { format, objects: request.objects, index });
      const url = URL.createObjectURL(blob);
      const link = Object.assign(document.createElement('a'), { href: url, download: filename });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      this.onStatus(`Exported ${filename}`);
    } catch (error) {
      this.onError(error);
    }
  }
}
