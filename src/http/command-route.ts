/**
 * An API route that runs registry commands, declared as which command(s) it runs and which JSON
 * field fills which argument. Field types come from the commands' own ArgumentSpecs (looked up
 * in the live registry on each request): an `integer` argument takes a JSON integer, a `word` or
 * `rest` one a JSON string (one of its `choices`, if it has them). A field the route does not
 * declare, a value of the wrong JSON type, a missing required field or one out of range is a 400
 * naming the field, before anything runs.
 *
 * A request goes: unknown query parameters → unknown fields → JSON types → which steps run →
 * each selected step's arguments checked against its spec → the steps run in order, stopping at
 * the first failure. Path parameters (`:id`, see paths.ts) and declared query parameters reach
 * `respond`.
 */
import type { ArgumentSpec, ArgumentValues, CommandResult, Invoker } from '../commands/registry.js';
import type { OperationsTarget } from './target.js';
import { HttpError } from './errors.js';
import type { RouteRequest } from './paths.js';

export type { RouteRequest };

export const HTTP_INVOKER: Invoker = { source: 'http', name: 'http', permission: 'admin' };

/** The request body, flattened: `{"countdown":{"duration":5}}` is the field `countdown.duration`. */
export type Fields = ReadonlyMap<string, unknown>;

/**
 * Where an argument's value comes from: a field name, or a field that narrows a `word` argument
 * to a JSON integer (the countdown's `duration` fills "seconds or preset").
 */
export type ArgumentSource = string | { field: string; integer: true; min?: number };

export interface Step {
  /** The registry command, e.g. "ban id". */
  command: string;
  /** Argument name → the field that fills it. */
  args?: Readonly<Record<string, ArgumentSource>>;
  /** Arguments the route fixes (`accept` with who = players). */
  fixed?: ArgumentValues;
  /** Runs only when this field is given (it selects the command: `id` → "ban id"). */
  given?: string;
  /** Runs only when this field is absent. */
  absent?: string;
  /** Runs only when this boolean field has this value (`enabled: true` → "whitelist on"). */
  flag?: readonly [field: string, value: boolean];
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface CommandRoute {
  /** Groups of fields of which at most one may be given; `required`: exactly one. */
  oneOf?: ReadonlyArray<{ fields: readonly string[]; required: boolean }>;
  /** Fields that must be given whatever runs (a flag). */
  required?: readonly string[];
  /** Query-string names the route reads (`?limit=`); any other name is a 400. None by default. */
  query?: readonly string[];
  steps: readonly Step[];
  /** The success response, from the results of the steps that ran (and the path's parameters). */
  respond(app: OperationsTarget, results: CommandResult[], request: RouteRequest): ApiResponse | Promise<ApiResponse>;
}

type JsonType = 'string' | 'integer' | 'boolean';

const sourceField = (source: ArgumentSource): string => (typeof source === 'string' ? source : source.field);

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** The fields a route reads, each with its JSON type, from the specs of the commands it runs. */
function fieldTypes(route: CommandRoute, app: OperationsTarget): Map<string, JsonType> {
  const types = new Map<string, JsonType>();
  const declare = (field: string, type: JsonType, command: string) => {
    const known = types.get(field);
    if (known !== undefined && known !== type)
      throw new Error(`field "${field}" is ${known} in one step and ${type} in "${command}"`);
    types.set(field, type);
  };
  for (const step of route.steps) {
    const definition = app.commands.find(step.command);
    if (definition === undefined) continue; // refused with unknown_command if the step is selected
    for (const [name, source] of Object.entries(step.args ?? {})) {
      const spec = definition.arguments?.find((argument) => argument.name === name);
      if (spec === undefined) throw new Error(`"${step.command}" has no argument "${name}"`);
      const type: JsonType = typeof source !== 'string' || spec.type === 'integer' ? 'integer' : 'string';
      declare(sourceField(source), type, step.command);
    }
    if (step.flag !== undefined) declare(step.flag[0], 'boolean', step.command);
  }
  return types;
}

/**
 * Checks a route's steps against the registry once, at start-up: every argument named exists,
 * every required argument is filled. A mistake here is a bug, so it throws. Commands that are
 * not registered are returned (their steps answer unknown_command).
 */
export function checkRoute(route: CommandRoute, app: OperationsTarget): string[] {
  const types = fieldTypes(route, app);
  const missing: string[] = [];
  for (const step of route.steps) {
    const definition = app.commands.find(step.command);
    if (definition === undefined) {
      missing.push(step.command);
      continue;
    }
    for (const spec of definition.arguments ?? []) {
      const filled = step.args?.[spec.name] !== undefined || step.fixed?.[spec.name] !== undefined;
      if (!spec.optional && !filled) throw new Error(`"${step.command}": nothing fills its argument "${spec.name}"`);
    }
    for (const name of Object.keys(step.fixed ?? {})) {
      if (!definition.arguments?.some((spec) => spec.name === name))
        throw new Error(`"${step.command}" has no argument "${name}"`);
    }
  }
  if (missing.length > 0) return missing;
  const selectors = [
    ...route.steps.flatMap((step) => [step.given, step.absent]),
    ...(route.oneOf ?? []).flatMap((group) => group.fields),
    ...(route.required ?? []),
  ];
  for (const field of selectors) {
    if (field !== undefined && !types.has(field)) throw new Error(`field "${field}" fills no argument`);
  }
  return missing;
}

function selected(step: Step, fields: Fields): boolean {
  if (step.given !== undefined && !fields.has(step.given)) return false;
  if (step.absent !== undefined && fields.has(step.absent)) return false;
  if (step.flag !== undefined && fields.get(step.flag[0]) !== step.flag[1]) return false;
  return true;
}

function quoteList(fields: readonly string[]): string {
  const quoted = fields.map((field) => `"${field}"`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)!}` : quoted.join('');
}

/** One argument's value from its field, checked against the spec; undefined when not given. */
function argumentValue(spec: ArgumentSpec, source: ArgumentSource, fields: Fields): string | number | undefined {
  const field = sourceField(source);
  const value = fields.get(field);
  if (value === undefined) {
    if (!spec.optional) throw new HttpError('bad_arguments', `missing "${field}"`);
    return undefined;
  }
  if (typeof source !== 'string') {
    const number = value as number; // typed as integer by fieldTypes
    if (source.min !== undefined && number < source.min)
      throw new HttpError('bad_arguments', `"${field}" must be at least ${source.min}`);
    return String(number);
  }
  if (spec.type === 'integer') {
    const number = value as number;
    if (spec.min !== undefined && number < spec.min)
      throw new HttpError('bad_arguments', `"${field}" must be at least ${spec.min}`);
    if (spec.max !== undefined && number > spec.max)
      throw new HttpError('bad_arguments', `"${field}" must be at most ${spec.max}`);
    return number;
  }
  const text = value as string;
  if (text === '' && !spec.optional) throw new HttpError('bad_arguments', `"${field}" must not be empty`);
  if (spec.choices !== undefined && !spec.choices.includes(text.toLowerCase()))
    throw new HttpError(
      'bad_arguments',
      `"${field}" must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(text)}`,
    );
  return text;
}

/** Runs a route for a request body: checks every field, then runs the selected steps in order. */
export async function runCommandRoute(
  route: CommandRoute,
  app: OperationsTarget,
  body: Record<string, unknown>,
  request: RouteRequest = { params: {}, query: new URLSearchParams() },
): Promise<ApiResponse> {
  const names = [...request.query.keys()];
  for (const name of new Set(names)) {
    if (!route.query?.includes(name))
      throw new HttpError('bad_arguments', `unknown query parameter ${JSON.stringify(name.slice(0, 40))}`);
    if (names.filter((given) => given === name).length > 1)
      throw new HttpError('bad_arguments', `query parameter ${JSON.stringify(name)} is given more than once`);
  }
  if (route.steps.length > 0 && route.steps.every((step) => app.commands.find(step.command) === undefined)) {
    const names = [...new Set(route.steps.map((step) => step.command))].join('", "');
    throw new HttpError('unknown_command', `the command "${names}" is not available on this server`);
  }
  const types = fieldTypes(route, app);
  const containers = new Set(
    [...types.keys()].filter((field) => field.includes('.')).map((field) => field.split('.')[0]!),
  );

  // Unknown fields, then JSON types.
  const fields = new Map<string, unknown>();
  for (const [key, value] of Object.entries(body)) {
    if (containers.has(key)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new HttpError('bad_arguments', `"${key}" must be an object, got ${jsonTypeOf(value)}`);
      for (const [inner, innerValue] of Object.entries(value)) fields.set(`${key}.${inner}`, innerValue);
    } else {
      fields.set(key, value);
    }
  }
  for (const [field, value] of fields) {
    const type = types.get(field);
    if (type === undefined) throw new HttpError('bad_arguments', `unknown field "${field}"`);
    const fits =
      type === 'integer'
        ? Number.isSafeInteger(value)
        : type === 'boolean'
          ? typeof value === 'boolean'
          : typeof value === 'string';
    if (!fits) {
      const expected = type === 'integer' ? 'a whole number' : type === 'boolean' ? 'true or false' : 'a string';
      throw new HttpError('bad_arguments', `"${field}" must be ${expected}, got ${jsonTypeOf(value)}`);
    }
  }

  // Which steps run.
  for (const group of route.oneOf ?? []) {
    const given = group.fields.filter((field) => fields.has(field));
    if (given.length > 1 || (group.required && given.length === 0)) {
      throw new HttpError(
        'bad_arguments',
        group.required
          ? `give exactly one of ${quoteList(group.fields)}`
          : `give at most one of ${quoteList(group.fields)}`,
      );
    }
  }
  for (const field of route.required ?? [])
    if (!fields.has(field)) throw new HttpError('bad_arguments', `missing "${field}"`);
  const steps = route.steps.filter((step) => selected(step, fields));

  // Each selected step's arguments, all checked before the first one runs.
  const used = new Set<string>();
  const planned = steps.map((step) => {
    const definition = app.commands.find(step.command);
    if (definition === undefined)
      throw new HttpError('unknown_command', `the command "${step.command}" is not available on this server`);
    const args: ArgumentValues = { ...step.fixed };
    for (const [name, source] of Object.entries(step.args ?? {})) {
      const spec = definition.arguments!.find((argument) => argument.name === name)!;
      used.add(sourceField(source));
      const value = argumentValue(spec, source, fields);
      if (value !== undefined) args[name] = value;
    }
    for (const field of [step.given, step.flag?.[0]]) if (field !== undefined) used.add(field);
    return { command: step.command, args };
  });
  for (const field of fields.keys()) {
    if (!used.has(field)) throw new HttpError('bad_arguments', `"${field}" cannot be used in this request`);
  }

  const results: CommandResult[] = [];
  for (const { command, args } of planned) {
    const result = await app.commands.run(command, args, HTTP_INVOKER);
    if (!result.ok) throw new HttpError(result.code, result.text);
    results.push(result);
  }
  return route.respond(app, results, request);
}
