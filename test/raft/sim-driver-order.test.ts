// The simulation runs the member's real Raft driver, so a mistake in the driver's order (persist -> send -> apply ->
// advance) must make it fail. Here drivers with an injected ordering bug (messages sent before their Ready is durable)
// run under the simulation on fixed seeds: every seed must end in an InvariantViolation, while the real driver passes
// the same seeds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, InvariantViolation, type SimOptions } from '../../src/sim/index.js';
import { RaftDriver } from '../../src/driver/index.js';
import { MessageType, type Message, type MessageTypeNumber, type Ready } from '../../src/raft/index.js';

/** A driver that sends the Ready's messages of the given types (all, without a list) before step 1, persist. */
function sendingBeforePersist(types?: readonly MessageTypeNumber[]): SimOptions['driver'] {
  class SendBeforePersist extends RaftDriver {
    protected override sendEarly(rd: Ready): Message[] {
      const early = types === undefined ? rd.messages : rd.messages.filter((m) => types.includes(m.type));
      this.send(early);
      return super.sendEarly({ ...rd, messages: rd.messages.filter((m) => !early.includes(m)) });
    }
  }
  return (options) => new SendBeforePersist(options);
}

const seeds = [1, 2, 3, 4, 5];

function outcome(seed: number, members: number, driver?: SimOptions['driver']): { error: unknown; steps: number } {
  const cluster = new Cluster(seed, driver === undefined ? { members } : { members, driver });
  try {
    cluster.run();
    return { error: undefined, steps: cluster.now };
  } catch (error) {
    return { error, steps: cluster.now };
  }
}

const bugs: { name: string; driver: SimOptions['driver'] }[] = [
  { name: 'every message', driver: sendingBeforePersist() },
  { name: 'votes only', driver: sendingBeforePersist([MessageType.Vote, MessageType.VoteResp]) },
  { name: 'append acknowledgements only', driver: sendingBeforePersist([MessageType.AppResp]) },
];

for (const members of [3, 5]) {
  test(`${members} members: the real driver passes seeds ${seeds.join(', ')}`, () => {
    for (const seed of seeds) {
      const { error } = outcome(seed, members);
      assert.equal(error, undefined, `SEED=${seed}: ${String(error)}`);
    }
  });

  for (const bug of bugs) {
    test(`${members} members: a driver sending ${bug.name} before persisting fails every seed`, (t) => {
      for (const seed of seeds) {
        const { error, steps } = outcome(seed, members, bug.driver);
        assert.ok(error instanceof InvariantViolation, `SEED=${seed}: not caught (${String(error)})`);
        assert.match(error.message, /before .* was durable/);
        t.diagnostic(`SEED=${seed}: step ${steps}: ${error.message}`);
      }
    });
  }
}
