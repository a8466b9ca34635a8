/**
 * Checks a manifest the way a Kubernetes API server checks a custom resource against its
 * CRD (apiextensions.k8s.io/v1) on `oc apply` (kubectl's default strict field validation):
 *
 * - the version's structural `openAPIV3Schema`, turned into JSON Schema and run by ajv
 *   (unknown fields refused, `format: byte` strict base64, `pattern` with RE2 as the
 *   apiserver's Go regexp does, `x-kubernetes-list-type: set` unique, list-map keys unique);
 * - every `x-kubernetes-validations` CEL rule on the node it is declared on, evaluated by
 *   @bufbuild/cel (conformance-tested against cel-spec; RE2 `matches`) with the two
 *   Kubernetes library functions the rules checked here use (`split` from cel-go's strings
 *   extension, `isURL` from Kubernetes' own library).
 *
 * A schema keyword this check does not implement is an error, never silently ignored.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type AnySchema } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { celFunc, celMap, CelScalar, isCelError, plan, celEnv, parse as parseCel, type CelInput } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from '@bufbuild/re2';
import { parse as parseYaml } from 'yaml';

interface Validation {
  readonly rule: string;
  readonly message?: string;
}

/** A node of a structural schema (apiextensions.k8s.io/v1 JSONSchemaProps), as far as read here. */
interface Structural {
  readonly type?: string;
  readonly format?: string;
  readonly properties?: Record<string, Structural>;
  readonly items?: Structural;
  readonly additionalProperties?: Structural | boolean;
  readonly nullable?: boolean;
  readonly 'x-kubernetes-validations'?: readonly Validation[];
  readonly 'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  readonly 'x-kubernetes-list-map-keys'?: readonly string[];
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
  readonly [key: string]: unknown;
}

interface Crd {
  readonly spec: {
    readonly group: string;
    readonly names: { readonly kind: string };
    readonly versions: readonly { readonly name: string; readonly schema: { readonly openAPIV3Schema: Structural } }[];
  };
}

export interface CrdReport {
  /** Every refusal, as `path: message`; empty when the API server would admit the manifest. */
  readonly errors: string[];
  /** Every CEL rule evaluated, as `path: rule` (shows which nodes the rules ran on). */
  readonly evaluated: string[];
}

/** JSON Schema keywords copied as they are (same meaning in OpenAPI v3 structural schemas). */
const SAME_MEANING = new Set(['type', 'enum', 'required', 'maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'minProperties', 'maximum', 'minimum', 'multipleOf', 'uniqueItems', 'default']);
/** Keys that only document or steer merging (server-side apply), not validation. */
const NO_VALIDATION = new Set(['description', 'example', 'x-kubernetes-map-type', 'x-kubernetes-list-map-keys']);

/** The structural schema → JSON Schema (draft-07, as ajv reads it). */
function toJsonSchema(node: Structural, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (SAME_MEANING.has(key)) out[key] = value;
    else if (NO_VALIDATION.has(key)) continue;
    else if (key === 'properties') out['properties'] = Object.fromEntries(Object.entries(node.properties ?? {}).map(([name, child]) => [name, toJsonSchema(child, `${path}.${name}`)]));
    else if (key === 'items') out['items'] = toJsonSchema(node.items as Structural, `${path}[]`);
    else if (key === 'additionalProperties') out['additionalProperties'] = typeof value === 'boolean' ? value : toJsonSchema(value as Structural, `${path}{}`);
    else if (key === 'anyOf' || key === 'allOf' || key === 'oneOf') out[key] = (value as Structural[]).map((v, i) => toJsonSchema(v, `${path}.${key}[${i}]`));
    else if (key === 'not') out['not'] = toJsonSchema(value as Structural, `${path}.not`);
    else if (key === 'x-kubernetes-int-or-string') continue; // its anyOf (integer | string) says it
    else if (key === 'format') out['format'] = value;
    else if (key === 'pattern') out['pattern'] = value;
    else if (key === 'x-kubernetes-list-type') {
      if (value === 'set') out['uniqueItems'] = true; // 'map' is checked in walk(); 'atomic' only steers merging
    } else if (key === 'x-kubernetes-validations' || key === 'x-kubernetes-preserve-unknown-fields' || key === 'nullable') continue; // handled below and in walk()
    else throw new Error(`CRD schema at ${path || '.'} uses ${key}, which this check does not implement`);
  }
  if (node.nullable === true && node.type !== undefined) out['type'] = [node.type, 'null'];
  // The API server refuses a field the schema does not declare (strict field validation),
  // unless the node preserves unknown fields.
  if (node.type === 'object' && node.properties !== undefined && node.additionalProperties === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out['additionalProperties'] = false;
  }
  return out;
}

// Kubernetes' generic ObjectMeta check of a custom resource's name: a DNS-1123 subdomain.
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function ajvFor(): Ajv {
  // The apiserver runs `pattern` with Go's regexp (RE2), so ajv gets an RE2 engine too.
  const re2 = Object.assign(
    (pattern: string) => {
      const re = new RE2JS(pattern);
      return { test: (s: string) => re.test(s), toString: () => `re2:${pattern}` };
    },
    { code: 'RE2JS' },
  );
  // Strict: a keyword ajv does not know is an error. Not strictTypes: an int-or-string's
  // `pattern` beside its anyOf (integer | string) is valid and applies to strings only.
  const ajv = new Ajv({ strict: true, strictTypes: false, allErrors: true, code: { regExp: re2 } });
  (addFormatsModule as unknown as (a: Ajv, formats: string[]) => void)(ajv, ['date-time']);
  // `format: byte` is Go's base64.StdEncoding: padded, no whitespace or line breaks
  // (ajv-formats' own `byte` matches line by line, so it is not used).
  ajv.addFormat('byte', { type: 'string', validate: (s: string) => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0 && Buffer.from(s, 'base64').toString('base64') === s });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  return ajv;
}

/**
 * Kubernetes' `isURL(string) bool` (k8s.io/apiserver/pkg/cel/library/urls.go) is true when
 * Go's url.ParseRequestURI accepts the string: an absolute URI or an absolute path. Hand
 * written because no npm CEL library ships Kubernetes' extension library: whitespace and
 * a fragment are refused first (as Go refuses them), then WHATWG URL parsing stands in
 * for Go's (it may accept a little more, e.g. some malformed hosts).
 */
const isURL = celFunc('isURL', [CelScalar.STRING], CelScalar.BOOL, (s: string) => {
  if (/\s/.test(s) || s.includes('#')) return false;
  if (s.startsWith('/')) return true;
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s) && URL.canParse(s);
});
const env = celEnv({ funcs: [...strings, isURL] });

/**
 * A manifest's value as CEL sees it under this schema node (Kubernetes' typing): objects are
 * maps, integers are CEL ints, `format: byte` strings are bytes.
 */
function toCel(value: unknown, node: Structural): CelInput {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((v) => toCel(v, node.items ?? {}));
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(([k, v]): [string, CelInput] => {
      const child = node.properties?.[k] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : {});
      return [k, toCel(v, child)];
    });
    return celMap(new Map(entries));
  }
  if ((node.type === 'integer' || node['x-kubernetes-int-or-string'] === true) && typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (node.type === 'string' && node.format === 'byte' && typeof value === 'string') return new Uint8Array(Buffer.from(value, 'base64'));
  if (node.format === 'date-time' || node.format === 'duration') throw new Error(`a CEL rule reads a ${node.format} field: not implemented by this check`);
  return value as CelInput;
}

function walk(node: Structural, value: unknown, path: string, report: CrdReport): void {
  if (value === undefined || value === null) return;
  for (const { rule, message } of node['x-kubernetes-validations'] ?? []) {
    // Transition rules (oldSelf) run only on updates; this check admits a new object.
    if (/\boldSelf\b/.test(rule)) continue;
    report.evaluated.push(`${path || '.'}: ${rule}`);
    const result = plan(env, parseCel(rule))({ self: toCel(value, node) });
    if (isCelError(result)) report.errors.push(`${path || '.'}: rule ${rule} failed to evaluate: ${result.message}`);
    else if (result !== true) report.errors.push(`${path || '.'}: ${message ?? `failed rule: ${rule}`}`);
  }
  if (Array.isArray(value)) {
    const keys = node['x-kubernetes-list-map-keys'];
    if (node['x-kubernetes-list-type'] === 'map' && keys) {
      const seen = new Set<string>();
      for (const [i, item] of value.entries()) {
        const key = JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k]));
        if (seen.has(key)) report.errors.push(`${path}[${i}]: Duplicate value: ${key}`);
        seen.add(key);
      }
    }
    value.forEach((item, i) => walk(node.items ?? {}, item, `${path}[${i}]`, report));
  } else if (typeof value === 'object') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const childNode = node.properties?.[key] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
      if (childNode) walk(childNode, child, path ? `${path}.${key}` : key, report);
    }
  }
}

/** A checker for manifests of the CRD in `crdFile` (YAML), version `version` (default: the first). */
export function crdChecker(crdFile: string, version?: string): (manifest: unknown) => CrdReport {
  const crd = parseYaml(readFileSync(crdFile, 'utf8')) as Crd;
  const served = version === undefined ? crd.spec.versions[0] : crd.spec.versions.find((v) => v.name === version);
  if (!served) throw new Error(`${crdFile} has no version ${version ?? '(none)'}`);
  const root = served.schema.openAPIV3Schema;
  const validate = ajvFor().compile(toJsonSchema(root, '') as AnySchema);
  const apiVersion = `${crd.spec.group}/${served.name}`;
  return (manifest) => {
    const report: CrdReport = { errors: [], evaluated: [] };
    const m = manifest as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
    if (m.apiVersion !== apiVersion) report.errors.push(`apiVersion: must be ${apiVersion}, not ${JSON.stringify(m.apiVersion)}`);
    if (m.kind !== crd.spec.names.kind) report.errors.push(`kind: must be ${crd.spec.names.kind}, not ${JSON.stringify(m.kind)}`);
    const name = m.metadata?.name;
    if (typeof name !== 'string' || name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) report.errors.push(`metadata.name: ${JSON.stringify(name)} is not a DNS-1123 subdomain`);
    if (!validate(manifest)) {
      for (const e of validate.errors ?? []) report.errors.push(`${e.instancePath.slice(1).replaceAll('/', '.') || '.'}: ${e.message ?? e.keyword}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty'])})` : ''}`);
    }
    walk(root, manifest, '', report);
    return report;
  };
}
