/**
 * GetModel over gRPC answers one model by its name or by an alias pointing to it (as REST GET /v1/models/{name} and
 * ZMQ model_status do: the same operation), and NOT_FOUND with the error code for a name that is neither.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { startHarness, errorCode } from '../helpers/coordinator.js';

t.test('GetModel by name, by alias, and for an unknown name', async (t) => {
  const h = await startHarness(t);
  const byName = await h.unary('GetModel', { name: 'moc-demo' });
  t.match(byName, { name: 'moc-demo', state: 'MODEL_STATE_LOADED', device: 'cpu0' });
  await h.unary('SetAlias', { alias: 'chat', target: 'moc-demo' });
  const byAlias = await h.unary('GetModel', { name: 'chat' });
  t.match(byAlias, { name: 'moc-demo', aliases: ['chat'] }, 'an alias answers with its target');
  const err = await h.unary('GetModel', { name: 'nope' }).catch((e) => e);
  t.equal(err.code, grpc.status.NOT_FOUND);
  t.equal(errorCode(err), 'MOC_ERR_MODEL_NOT_FOUND');
  t.match(err.details, /not registered/);
});
