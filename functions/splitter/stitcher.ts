import { GAP, partHeading } from '../lib/stitch.ts';

interface Segment {
  title: string;
  attempt: number;
  text: string;
  /** How much of `text` went out. */
  sent: number;
  /** Where this part's answer starts in what went out (after its heading), once it started. */
  startsAt: number | undefined;
  /** Where this part started in what went out (before the gap and its heading). */
  gapAt: number;
  done: boolean;
  failed: boolean;
}

/**
 * Puts a stitched answer's pieces in plan order as they arrive from different places: the
 * opening (from the merger), each part's text (from its inference, live), and at the end the
 * whole answer (job.completed), of which only what is still missing goes out. The head piece is
 * passed on as it arrives; later parts are held until every piece before them has gone out.
 * Each method returns the text to send now (possibly empty). The layout is `lib/stitch.ts`'s.
 * @example const s = new Stitcher(['A', 'B']); send(s.opening('Hi.')); send(s.text(1, 1, 'b')) // '' (held)
 */
export class Stitcher {
  readonly #parts: Segment[];
  #opening: string | undefined;
  /** -1: the opening; 0..n-1: that part; n: all parts out. */
  #head = -1;
  /** What went out that belongs to the answer (a retry's marker does not). */
  #logical = '';

  constructor(titles: string[]) {
    this.#parts = titles.map((title) => ({ title, attempt: 1, text: '', sent: 0, startsAt: undefined, gapAt: 0, done: false, failed: false }));
  }

  opening(text: string): string {
    if (this.#opening !== undefined) return '';
    this.#opening = text;
    return this.#pump();
  }

  /** Text of part `index`'s attempt `attempt`. A newer attempt replaces what an older one wrote. */
  text(index: number, attempt: number, content: string): string {
    const seg = this.#parts[index];
    if (!seg || attempt < seg.attempt || index < this.#head) return '';
    let out = '';
    if (attempt > seg.attempt) {
      seg.attempt = attempt;
      seg.text = '';
      seg.sent = 0;
      seg.done = false;
      if (seg.startsAt !== undefined) {
        // Already on screen: it cannot be taken back, so say what happens, and write the new attempt after.
        out += `\n\n[the model failed mid-answer; retrying (attempt ${attempt})]\n\n`;
        this.#logical = this.#logical.slice(0, seg.startsAt);
      }
    }
    seg.text += content;
    return out + this.#pump();
  }

  /** Part `index` (that attempt) sent all its text. */
  done(index: number, attempt: number): string {
    const seg = this.#parts[index];
    if (!seg || attempt !== seg.attempt) return '';
    seg.done = true;
    return this.#pump();
  }

  /** Part `index` failed for good: it is left out (if some of it is on screen already, that is said). */
  failed(index: number): string {
    const seg = this.#parts[index];
    if (!seg || seg.failed || seg.done) return '';
    seg.failed = true;
    let out = '';
    if (seg.startsAt !== undefined && index === this.#head) {
      out = `\n\n[this part failed: it is left out of the answer]\n\n`;
      this.#logical = this.#logical.slice(0, seg.gapAt);
    }
    return out + this.#pump();
  }

  /** The whole answer is in: what of it has not gone out yet. */
  finish(answer: string): string {
    if (answer.startsWith(this.#logical)) return answer.slice(this.#logical.length);
    // Should not happen (the layouts are the same): send from where the two part ways.
    let i = 0;
    while (i < answer.length && answer[i] === this.#logical[i]) i++;
    return answer.slice(i);
  }

  /** What went out so far that belongs to the answer. */
  get sent(): string {
    return this.#logical;
  }

  #pump(): string {
    let out = '';
    const emit = (t: string) => {
      out += t;
      this.#logical += t;
    };
    for (;;) {
      if (this.#head === -1) {
        if (this.#opening === undefined) return out;
        if (this.#opening) emit(this.#opening);
        this.#head = 0;
        continue;
      }
      const seg = this.#parts[this.#head];
      if (!seg) return out;
      if (!seg.failed && seg.text.length > seg.sent) {
        if (seg.startsAt === undefined) {
          seg.gapAt = this.#logical.length;
          emit((this.#logical ? GAP : '') + partHeading(seg.title));
          seg.startsAt = this.#logical.length;
        }
        emit(seg.text.slice(seg.sent));
        seg.sent = seg.text.length;
      }
      if (!seg.done && !seg.failed) return out;
      this.#head++;
    }
  }
}
