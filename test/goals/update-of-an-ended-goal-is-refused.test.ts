/**
 * Changes to an ended goal are refused, not answered 200 with the old fields (issue 24, item 8): REST PUT on a
 * cancelled goal is a 409 MOC_ERR_GOAL_ENDED, gRPC UpdateGoal an ABORTED with that code; the goal keeps
 * its title and links nothing; cancelling it again answers it as it is.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { errorCode, startHarness } from '../helpers/coordinator.js';

t.test('an ended goal refuses changes on REST and gRPC, and stays as it was', async (t) => {
  const h = await startHarness(t);
  const json = { 'content-type': 'application/json' };
  const created = await fetch(`${h.restUrl}/v1/goals`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ title: 'ship it' }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  const cancelled = await fetch(`${h.restUrl}/v1/goals/${created.id}/cancel`, {
    method: 'POST',
    headers: json,
    body: '{}',
  });
  t.equal(cancelled.status, 200, 'cancelled');

  const put = await fetch(`${h.restUrl}/v1/goals/${created.id}`, {
    method: 'PUT',
    headers: json,
    body: JSON.stringify({ title: 'changed' }),
  });
  const body = (await put.json()) as { error: { code: string; message: string } };
  t.equal(put.status, 409, 'REST: 409');
  t.equal(body.error.code, 'MOC_ERR_GOAL_ENDED', 'REST: coded');
  t.match(body.error.message, /has ended \(cancelled\).*create a new goal/, 'REST: says why and what to do');

  const err = await h
    .unary('UpdateGoal', { id: created.id, title: 'changed again' })
    .catch((e: grpc.ServiceError) => e);
  t.equal((err as grpc.ServiceError).code, grpc.status.ABORTED, 'gRPC: ABORTED (a conflict with its state)');
  t.equal(errorCode(err), 'MOC_ERR_GOAL_ENDED', 'gRPC: coded');

  const now = await fetch(`${h.restUrl}/v1/goals/${created.id}`).then(
    (r) => r.json() as Promise<Record<string, unknown>>,
  );
  t.equal(now.title, 'ship it', 'the title is unchanged');
  t.equal(now.state, 'cancelled');
  const again = await fetch(`${h.restUrl}/v1/goals/${created.id}/cancel`, {
    method: 'POST',
    headers: json,
    body: '{}',
  });
  t.equal(again.status, 200, 'cancelling an ended goal again answers it as it is');
});
