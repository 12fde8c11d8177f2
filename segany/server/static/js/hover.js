// Hover: the mask under the cursor follows the mouse. At most one request is in flight; while it runs, newer
// positions overwrite each other (the latest wins) and only the latest is asked next, so there is never a
// queue of stale requests. A reply is drawn only if it is newer than the last one drawn and hover was not
// cancelled meanwhile.

export class HoverController {
  // request(target) -> Promise<result>; draw(result, target) paints it. target: {seq, imageId, x, y, eventTime}
  constructor(request, draw, onError) {
    this.request = request;
    this.draw = draw;
    this.onError = onError;
    this.seq = 0;
    this.drawnSeq = 0;
    this.latest = null;
    this.inFlight = false;
    this.asked = null; // the target of the last request
    this.cancelled = false;
    this.counts = { moves: 0, repeats: 0, requests: 0, drawn: 0, dropped: 0 };
  }

  // eventTime: the pointer event's timeStamp (when the input arrived; the performance.now() clock).
  move(imageId, x, y, eventTime) {
    this.counts.moves += 1;
    // A mousemove at the position last asked for (browsers send such events, e.g. after a repaint) would
    // only recompute the same mask, and delay the next real move by a whole decode.
    const last = this.latest ?? this.asked;
    if (last && last.imageId === imageId && last.x === x && last.y === y && !this.cancelled) {
      this.counts.repeats += 1;
      return;
    }
    this.seq += 1;
    this.cancelled = false;
    this.latest = { seq: this.seq, imageId, x, y, eventTime };
    if (!this.inFlight) this.pump();
  }

  // Forget pending positions and ignore the reply in flight (mouse left, prompt started, image changed).
  cancel() {
    this.latest = null;
    this.cancelled = true;
    this.seq += 1;
    this.drawnSeq = this.seq;
  }

  async pump() {
    this.inFlight = true;
    while (this.latest) {
      const target = this.latest;
      this.latest = null;
      this.asked = target;
      this.counts.requests += 1;
      try {
        const result = await this.request(target);
        if (target.seq > this.drawnSeq) {
          this.drawnSeq = target.seq;
          this.draw(result, target);
          this.counts.drawn += 1;
        } else {
          this.counts.dropped += 1;
        }
      } catch (error) {
        this.asked = null; // the same position may be asked again
        this.onError(error);
      }
    }
    this.inFlight = false;
  }
}
