// The sends a sink has handed out and not finished yet: its close() waits for them (the Sink contract).

export interface SendTracker {
  /** Keeps `send` until it settles; returns it. */
  track<T>(send: Promise<T>): Promise<T>;
  /** Resolves once every send tracked so far has settled (fulfilled or not). */
  settled(): Promise<void>;
}

export function createSendTracker(): SendTracker {
  const sends = new Set<Promise<unknown>>();
  return {
    track(send) {
      sends.add(send);
      void send.finally(() => sends.delete(send)).catch(() => undefined);
      return send;
    },
    async settled() {
      await Promise.allSettled([...sends]);
    },
  };
}
