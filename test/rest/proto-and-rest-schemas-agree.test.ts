/**
 * gRPC and REST clients read the same words: each REST body in schemas/rest.ts has exactly the fields of its proto
 * message in proto/moc.proto (names as written, snake_case), with the same kind of value. A field added on one side
 * only fails here, naming the field and the side it is missing on.
 */
import t from 'tap';
import path from 'node:path';
import protobuf from 'protobufjs';
import type { TSchema } from '@sinclair/typebox';
import { packageRoot } from '../../src/package-root.js';
import * as rest from '../../schemas/rest.js';

const root = new protobuf.Root().loadSync(path.join(packageRoot(), 'proto', 'moc.proto'), { keepCase: true });
root.resolveAll();

/** proto message ↔ REST schema, with the fields one side carries elsewhere (the URL path, the stream switch). */
/** protoString: REST enums the proto carries as a string (job types are hyphenated, which proto enum names cannot be). */
/** kindDiffers: fields both carry in another shape, with why (checked to exist on both sides, not for their kind). */
const PAIRS: {
  proto: string;
  rest: string;
  schema: TSchema;
  restExtra?: string[];
  protoExtra?: string[];
  protoString?: string[];
  kindDiffers?: Record<string, string>;
}[] = [
  // tool_choice: "auto" | "none" | "required" | {name} in REST; a string plus tool_choice_name in the proto (no unions of
  // a string and a message there).
  // response_format: {type, schema} in REST; a string plus response_schema_json (JSON text) in the proto. logit_bias: a
  // JSON object in REST, a proto map.
  {
    proto: 'InferRequest',
    rest: 'InferBody',
    schema: rest.InferBody,
    restExtra: ['stream'],
    protoExtra: ['tool_choice_name', 'response_schema_json'],
    kindDiffers: {
      tool_choice: 'a string or {name} in REST; tool_choice and tool_choice_name in the proto',
      response_format: '{type, schema} in REST; response_format and response_schema_json in the proto',
      logit_bias: 'an object in REST, a map in the proto',
    },
  },
  { proto: 'RegisterModelRequest', rest: 'RegisterRequest', schema: rest.RegisterRequest },
  { proto: 'LoadModelRequest', rest: 'LoadBody', schema: rest.LoadBody, protoExtra: ['name'] },
  { proto: 'InferResponse', rest: 'InferResponse', schema: rest.InferResponse },
  { proto: 'ModelInfo', rest: 'ModelResource', schema: rest.ModelResource },
  { proto: 'DeviceInfo', rest: 'DeviceResource', schema: rest.DeviceResource },
  { proto: 'MemoryLedger', rest: 'MemoryLedger', schema: rest.MemoryLedger },
  { proto: 'SetAliasResponse', rest: 'AliasResponse', schema: rest.AliasResponse },
  { proto: 'UnloadModelResponse', rest: 'UnloadResponse', schema: rest.UnloadResponse },
  { proto: 'PinModelRequest', rest: 'PinBody', schema: rest.PinBody, protoExtra: ['name'] },
  { proto: 'SetAliasRequest', rest: 'AliasBody', schema: rest.AliasBody, protoExtra: ['alias'] },
  // A job's spec is a JSON object in REST and a JSON string in the proto (its shape depends on the job type).
  {
    proto: 'SubmitJobRequest',
    rest: 'SubmitJobBody',
    schema: rest.SubmitJobBody,
    restExtra: ['spec'],
    protoExtra: ['spec_json'],
    protoString: ['type'],
  },
  {
    proto: 'Job',
    rest: 'JobResource',
    schema: rest.JobResource,
    restExtra: ['spec'],
    protoExtra: ['spec_json'],
    protoString: ['type'],
  },
  { proto: 'RecordFeedbackRequest', rest: 'FeedbackBody', schema: rest.FeedbackBody },
  // A goal's plan (and its state) is a JSON object in REST and a JSON string in the proto, as a job's spec.
  {
    proto: 'CreateGoalRequest',
    rest: 'CreateGoalBody',
    schema: rest.CreateGoalBody,
    restExtra: ['plan'],
    protoExtra: ['plan_json'],
  },
  { proto: 'UpdateGoalRequest', rest: 'UpdateGoalBody', schema: rest.UpdateGoalBody, protoExtra: ['id'] },
  {
    proto: 'Goal',
    rest: 'GoalResource',
    schema: rest.GoalResource,
    restExtra: ['plan', 'plan_state'],
    protoExtra: ['plan_json', 'plan_state_json'],
  },
  { proto: 'Feedback', rest: 'FeedbackResource', schema: rest.FeedbackResource, protoString: ['kind'] },
];

const fieldsOf = (message: string) => root.lookupType(`moc.v1.${message}`).fieldsArray;
const propsOf = (schema: TSchema): Record<string, TSchema> => schema.properties as Record<string, TSchema>;

for (const p of PAIRS) {
  t.test(`proto ${p.proto} and REST ${p.rest} have the same field names`, async (t) => {
    const protoNames = new Set(
      fieldsOf(p.proto)
        .map((f) => f.name)
        .filter((n) => !p.protoExtra?.includes(n)),
    );
    const restNames = new Set(Object.keys(propsOf(p.schema)).filter((n) => !p.restExtra?.includes(n)));
    const missingInRest = [...protoNames].filter((n) => !restNames.has(n));
    const missingInProto = [...restNames].filter((n) => !protoNames.has(n));
    t.same(
      { missingInRest, missingInProto },
      { missingInRest: [], missingInProto: [] },
      missingInRest.length + missingInProto.length === 0
        ? `the same ${protoNames.size} fields`
        : `fields of proto ${p.proto} missing from REST ${p.rest}: [${missingInRest.join(', ')}]; ` +
            `fields of REST ${p.rest} missing from proto ${p.proto}: [${missingInProto.join(', ')}]`,
    );
    for (const extra of p.protoExtra ?? [])
      t.ok(
        fieldsOf(p.proto).some((f) => f.name === extra),
        `proto ${p.proto} has ${extra} (REST: in the path)`,
      );
    for (const extra of p.restExtra ?? []) t.ok(extra in propsOf(p.schema), `REST ${p.rest} has ${extra}`);
  });
}

const INTEGER = new Set([
  'int32',
  'int64',
  'uint32',
  'uint64',
  'sint32',
  'sint64',
  'fixed32',
  'fixed64',
  'sfixed32',
  'sfixed64',
]);

/** The JSON kind a proto field becomes: array, boolean, string, integer, number, object, or its enum's value names. */
function protoKind(f: protobuf.Field): string {
  if (f.repeated) return 'array';
  if (f.resolvedType instanceof protobuf.Enum) {
    // FINISH_REASON_STOP → stop; the UNSPECIFIED zero value is never sent.
    const prefix = `${f.resolvedType.name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}_`;
    const names = Object.keys(f.resolvedType.values).filter((v) => !v.endsWith('_UNSPECIFIED'));
    return (
      'enum ' +
      names
        .map((v) => v.slice(prefix.length).toLowerCase())
        .sort()
        .join('|')
    );
  }
  if (f.resolvedType) return 'object';
  if (f.type === 'bool') return 'boolean';
  if (f.type === 'string' || f.type === 'bytes') return 'string';
  if (INTEGER.has(f.type)) return 'integer';
  if (f.type === 'double' || f.type === 'float') return 'number';
  return `unknown proto type ${f.type}`;
}

function restKind(s: TSchema): string {
  if (Array.isArray(s.anyOf) && s.anyOf.every((x: TSchema) => 'const' in x)) {
    return (
      'enum ' +
      s.anyOf
        .map((x: TSchema) => String(x.const))
        .sort()
        .join('|')
    );
  }
  return String(s.type);
}

for (const p of PAIRS) {
  t.test(`proto ${p.proto} and REST ${p.rest} carry the same kind of value in each field`, async (t) => {
    const props = propsOf(p.schema);
    for (const f of fieldsOf(p.proto)) {
      if (!(f.name in props)) continue; // reported by the name test above
      const differs = p.kindDiffers?.[f.name];
      if (differs) {
        t.pass(`${p.proto}.${f.name}: ${differs}`);
        continue;
      }
      const want = p.protoString?.includes(f.name)
        ? restKind(props[f.name]!).replace(/^enum .*/, 'string')
        : restKind(props[f.name]!);
      t.equal(
        want,
        protoKind(f),
        `${p.proto}.${f.name} (${f.repeated ? 'repeated ' : ''}${f.type}) ↔ ${p.rest}.${f.name}`,
      );
    }
  });
}
