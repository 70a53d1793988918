// What the relay saves and the health of what it depends on, from /v1/status.

import { getJson, type Status } from './api';
import { formatCount } from './format';

type Health = 'ok' | 'pending' | 'bad' | 'off' | 'unknown';

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`dashboard markup lacks #${id}`);
  return found;
}

function setHealth(id: string, health: Health, text: string): void {
  element(`health-${id}`).dataset.state = health;
  element(`health-${id}-text`).textContent = text;
}

function stateHealth(state: string | undefined): Health {
  switch (state) {
    case 'ok':
      return 'ok';
    case 'disabled':
      return 'off';
    case 'starting':
    case 'catching_up':
      return 'pending';
    case undefined:
      return 'unknown';
    default:
      return 'bad';
  }
}

export class StatusPanel {
  last: Status | null = null;

  render(status: Status): void {
    this.last = status;
    const upstream = status.upstream_requests ?? 0;
    element('client-requests').textContent = formatCount(status.client_requests);
    element('stream-clients').textContent = `${formatCount(status.stream_clients)} live stream${status.stream_clients === 1 ? '' : 's'} · ${status.role ?? ''}`;
    element('upstream-calls').textContent = formatCount(upstream);
    // A `serve` replica makes no upstream call at all (the fetcher does): no ratio to show then.
    element('saved').textContent =
      upstream === 0
        ? 'none: every answer came from the relay'
        : status.client_requests > upstream
          ? `${formatCount(status.client_requests - upstream)} calls saved (${(status.client_requests / upstream).toFixed(1)}× fewer)`
          : 'no client request has cost an upstream call';

    // Credits: known where this process fetches (`run`); `serve` replicas read Kafka and leave
    // the count to the fetcher, so the panel says n/a rather than guess.
    const credits = status.credits;
    const left = element('credits-left');
    const note = element('credits-note');
    if (credits && typeof credits.left === 'number') {
      left.textContent = formatCount(credits.left);
      note.textContent = `of ${formatCount(credits.monthly)} in ${credits.month ?? 'this month'} · ${formatCount(credits.used)} used`;
    } else if (credits && credits.left === null) {
      left.textContent = 'no cap';
      note.textContent = `${formatCount(credits.used)} calls this month`;
    } else {
      left.textContent = 'n/a';
      note.textContent = status.role === 'serve' ? 'counted by the fetcher' : 'not reported by this process';
    }
    left.dataset.available = String(Boolean(credits && credits.left !== undefined));

    if (status.upstream) {
      const state = status.upstream.status;
      const failed = status.upstream.failed_cycles ?? 0;
      setHealth(
        'upstream',
        state === 'degraded' ? 'bad' : stateHealth(state),
        `${state ?? ''} · ${formatCount(status.upstream.cycles)} cycles${failed ? `, ${formatCount(failed)} failed` : ''}`,
      );
    } else {
      setHealth('upstream', 'off', status.role === 'serve' ? 'fed by Kafka' : 'n/a');
    }
    setHealth('kafka', stateHealth(status.kafka?.state), status.kafka?.state ?? 'n/a');
    setHealth('search', stateHealth(status.search?.state), status.search?.state ?? 'n/a');
  }

  /** Polls /v1/status; a failed poll marks the relay unreachable until the next one works. */
  follow(intervalMs: number): void {
    const poll = async () => {
      try {
        this.render(await getJson<Status>('/v1/status'));
      } catch (error) {
        console.warn('coinrelay: /v1/status failed', error);
        for (const id of ['upstream', 'kafka', 'search']) setHealth(id, 'unknown', 'relay unreachable');
      } finally {
        window.setTimeout(poll, intervalMs);
      }
    };
    void poll();
  }
}
