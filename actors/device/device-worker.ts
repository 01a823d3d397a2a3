/**
 * Worker-thread entry of a device actor. The supervisor starts one per configured device with DeviceWorkerData;
 * the engine child process is started before 'ready' so a device that cannot start its engine fails its start.
 */
import { workerData } from 'node:worker_threads';
import { hostActor } from '../../src/kernel/worker-host.js';
import type { DeviceProtocol } from '../../schemas/messages.js';
import { DeviceActor, type DeviceWorkerData } from './device-actor.js';

const data = workerData as DeviceWorkerData;
const actor = new DeviceActor(data);
await actor.start();
// What start() began (the models a restarted worker loads again) was not reported: nothing listened yet. Reported
// before 'ready', so the route table never shows the previous worker's "loaded" once this worker counts as started.
hostActor<DeviceProtocol>(actor, Math.min(64, data.device.mailboxCapacity), (notify) => {
  actor.notify = notify;
  actor.announce();
});
