/** Prints a new CURVE key pair (Z85) as one JSON line, for zmq.curve (server) or a client's allow-list entry. */
import { curveKeyPair } from 'zeromq';

const { publicKey, secretKey } = curveKeyPair();
console.log(JSON.stringify({ publicKey, secretKey }));
