'use strict';
// Gives back the memory an environment grew during a burst once it has been idle for a while.
//
// V8 keeps the young generation at the size a burst grew it to, and promotes whatever was alive
// at a scavenge (pending promises, socket buffers, ...) into the old generation, where it stays
// until a full collection that a lightly loaded heap may not reach for a long time: an idle warm
// environment would keep every page a burst made it reserve (28 MiB after a few thousand hello
// invocations, against 11 MiB before them). One compacting full collection after a quiet period
// returns them. The period is longer than V8's allocation-rate window (5 s): only when the rate
// over that window is low does a full collection shrink the young generation too.
//
// `gc` is the one Lambda's own bootstrap exposes (node --expose-gc), taken at boot so that a
// function replacing the global cannot change what runs here.
const IDLE_MS = 6000;

class IdleGc {
  constructor(gc = globalThis.gc, idleMs = IDLE_MS) {
    this.gc = typeof gc === 'function' ? gc : null;
    this.busy = false;
    /** Invocations since the last collection: an environment that did nothing has nothing to give back. */
    this.since = 0;
    this.timer = null;
    this.idleMs = idleMs;
  }

  /** An invocation starts. */
  busyNow() {
    this.busy = true;
    this.since++;
  }

  /**
   * The invocation's result is reported: the runtime now waits for its next invocation. The
   * timer is set once, not moved at every invocation (a busy environment would pay for that
   * every time): when it fires after invocations that came since it was set, it waits one more
   * period. The collection comes one to two quiet periods after the last invocation.
   */
  idleNow() {
    this.busy = false;
    if (!this.gc || this.since === 0 || this.timer) return;
    this.arm();
  }

  arm() {
    const seen = this.since;
    this.timer = setTimeout(() => {
      this.timer = null;
      // Busy: the end of this invocation sets it again.
      if (this.since === 0 || this.busy) return;
      if (this.since !== seen) this.arm();
      else this.collect();
    }, this.idleMs).unref();
  }

  collect() {
    if (this.busy || this.since === 0) return;
    this.since = 0;
    // Compaction moves the survivors together so that emptied pages are released, not kept.
    const v8 = require('node:v8');
    v8.setFlagsFromString('--compact-on-every-full-gc');
    try {
      this.gc();
    } finally {
      v8.setFlagsFromString('--no-compact-on-every-full-gc');
    }
  }
}

module.exports = { IdleGc };
