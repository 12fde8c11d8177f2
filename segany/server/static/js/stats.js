// Latency instrumentation read by the browser benchmark and the end-to-end tests (window.seganyStats).
// All times are performance.now() milliseconds; a hover latency runs from the pointer move event's timeStamp (the input's arrival)
// to the moment its mask was painted on the canvas.

export function createStats() {
  const stats = {
    // {seq, imageId, decoder, graph (browser: 'cached' | 'decoder'), latencyMs, decodeMs,
    //  stages: {wait, request, server (server decoding only), decode, mask, draw}}
    hover: [],
    firstHover: [], // {imageId, decoder, ms}: opening a photo -> its first hover mask drawn
    predictions: [], // {decoder, graph, latencyMs}: click/box prompt -> mask drawn
    errors: [],
    reset() {
      this.hover.length = 0;
      this.firstHover.length = 0;
      this.predictions.length = 0;
      this.errors.length = 0;
    },
  };
  window.seganyStats = stats;
  return stats;
}
