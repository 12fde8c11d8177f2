// The editor's state as an explicit list of actions (STYLE.md 15): undo/redo move a cursor over the list, and
// everything the page shows (prompt, chosen candidate, objects) is derived by replaying the actions before it.
//
// Actions (plain objects, never mutated once pushed):
//   {type: 'point', x, y, label}        a click; (x, y) original-image pixels, label 1 positive / 0 negative
//   {type: 'box', box}                  a dragged box, XYXY original-image pixels (replaces an earlier box)
//   {type: 'choose', index}             a multimask candidate chosen with keys 1/2/3
//   {type: 'pick', index, rle, score}   an "everything" mask selected by a click
//   {type: 'accept', objectId, label, rle, score}   the current mask becomes an object
//   {type: 'delete', objectId}          an object removed
//   {type: 'hide', objectId}            an object's visibility toggled
//   {type: 'reset'}                     the current prompt cleared (Escape)

export class ActionLog {
  constructor() {
    this.actions = [];
    this.cursor = 0; // actions[0:cursor] are done, the rest can be redone
  }

  push(action) {
    this.actions.length = this.cursor; // a new step drops the redo branch
    this.actions.push(Object.freeze(action));
    this.cursor = this.actions.length;
  }

  get done() {
    return this.actions.slice(0, this.cursor);
  }

  get canUndo() {
    return this.cursor > 0;
  }

  get canRedo() {
    return this.cursor < this.actions.length;
  }

  undo() {
    if (this.canUndo) this.cursor -= 1;
  }

  redo() {
    if (this.canRedo) this.cursor += 1;
  }
}

// One step of the current prompt: the prompt after a point or box action and the candidate chosen for it
// (null: the model's best). Steps are what refinement chains: step k is predicted with step k-1's logits.
function makeStep(points, labels, box, choice) {
  return Object.freeze({ key: promptKey(points, labels, box), points, labels, box, choice });
}

export function promptKey(points, labels, box) {
  return JSON.stringify({ points, labels, box });
}

// Replays `actions` -> {steps, picked, objects}; the current prompt is steps[steps.length - 1] (if any).
export function deriveState(actions) {
  let steps = [];
  let picked = null;
  let objects = [];
  const clearPrompt = () => {
    steps = [];
    picked = null;
  };
  for (const action of actions) {
    const last = steps[steps.length - 1];
    switch (action.type) {
      case 'point': {
        const points = [...(last?.points ?? []), [action.x, action.y]];
        const labels = [...(last?.labels ?? []), action.label];
        steps = [...steps, makeStep(points, labels, last?.box ?? null, null)];
        picked = null;
        break;
      }
      case 'box':
        steps = [...steps, makeStep(last?.points ?? [], last?.labels ?? [], action.box, null)];
        picked = null;
        break;
      case 'choose':
        if (last) steps = [...steps.slice(0, -1), makeStep(last.points, last.labels, last.box, action.index)];
        break;
      case 'pick':
        clearPrompt();
        picked = { index: action.index, rle: action.rle, score: action.score };
        break;
      case 'accept':
        objects = [...objects, { id: action.objectId, label: action.label, rle: action.rle, score: action.score,
          hidden: false }];
        clearPrompt();
        break;
      case 'delete':
        objects = objects.filter((o) => o.id !== action.objectId);
        break;
      case 'hide':
        objects = objects.map((o) => (o.id === action.objectId ? { ...o, hidden: !o.hidden } : o));
        break;
      case 'reset':
        clearPrompt();
        break;
      default:
        throw new Error(`unknown action type ${JSON.stringify(action.type)}`);
    }
  }
  return { steps, picked, objects };
}

// SAM's rule for when the 3 candidates help: one ambiguous prompt (a single point, or a box alone).
export function wantsMultimask(step) {
  const single = step.points.length === 1 && step.box === null;
  const boxAlone = step.points.length === 0 && step.box !== null;
  return single || boxAlone;
}
