/** One JSON request on a fresh REQ socket to the ZMQ listener; resolves with the parsed reply. */
import * as zmq from 'zeromq';

export async function zmqRequest(endpoint: string, msg: unknown, timeoutMs = 30_000): Promise<any> {
  const s = new zmq.Request({ linger: 0, receiveTimeout: timeoutMs });
  s.connect(endpoint);
  try {
    await s.send(JSON.stringify(msg));
    const [reply] = await s.receive();
    return JSON.parse(reply!.toString());
  } finally {
    s.close();
  }
}
