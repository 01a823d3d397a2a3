/**
 * The fleet registry: what each host publishes about itself (its devices' ledgers, the models loaded on them with their
 * queues, the models its catalog can load, where to reach it) and how the fleet looks from any host: GET /v1/fleet,
 * gRPC GetFleet, ZMQ `fleet`, `moc fleet` (docs/fleet.md).
 */
import { Type, type Static } from '@sinclair/typebox';
import { MemoryLedger } from './rest.js';

export const FleetDevice = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    available: Type.Boolean(),
    memory: MemoryLedger,
    models: Type.Array(
      Type.Object(
        { name: Type.String(), state: Type.String(), in_flight: Type.Integer(), queued: Type.Integer() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type FleetDevice = Static<typeof FleetDevice>;

/** What a host publishes with its heartbeats. */
export const HostRecord = Type.Object(
  {
    advertise: Type.Object(
      { grpc: Type.String(), rest: Type.String(), zmq: Type.String() },
      { additionalProperties: false, description: "where clients reach it ('' when not advertised)" },
    ),
    started_at_ms: Type.Number(),
    /** Its heartbeat period: it is judged silent after two of them without one. */
    heartbeat_ms: Type.Integer(),
    devices: Type.Array(FleetDevice),
    /** The models its catalog can load (names), adapters included. */
    catalog: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);
export type HostRecord = Static<typeof HostRecord>;

export const FleetHost = Type.Composite(
  [
    Type.Object({
      host_id: Type.String(),
      alive: Type.Boolean({ description: 'a heartbeat within its last two periods, by the database clock' }),
      silent_ms: Type.Integer({ description: 'since its last heartbeat, by the database clock' }),
    }),
    HostRecord,
  ],
  { additionalProperties: false },
);
export type FleetHost = Static<typeof FleetHost>;

export const FleetList = Type.Object({ hosts: Type.Array(FleetHost) }, { additionalProperties: false });
