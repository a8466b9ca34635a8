/**
 * Image tags of the images the pipeline builds (docs/images.md).
 *
 * - Per-arch tag: the kernel string with KMM's normalisation (every character outside
 *   `[A-Za-z0-9._-]` becomes `_`): `5.14.0-427.68.1.el9_4.x86_64`, `…x86_64+rt` →
 *   `…x86_64_rt`.
 * - Multi-arch tag: the kernel without arch, `5.14.0-427.68.1.el9_4`, and only for
 *   base kernels. RT kernels exist on x86_64 only and 64k kernels on aarch64 only, so a
 *   flavoured kernel never has a second arch to join: asking for its multi-arch tag is
 *   an error rather than a tag such as `…el9_4_rt` that would name a one-arch index.
 * - Partner images template their tag with KMM's placeholders. The template's literal
 *   text may hold only tag characters; every placeholder value is normalised like a
 *   kernel tag; the result is validated as a tag. The template must contain
 *   `${KERNEL_FULL_VERSION}`, the one placeholder that carries the arch, so the two
 *   per-arch builds of a kernel can never overwrite each other's tag.
 */
import { kernelTag, quoteUntrusted } from '../kernel.ts';
import type { BuildKernel } from './build-kernel.ts';

/** Docker/OCI tag grammar. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export const TAG_PLACEHOLDERS = ['KERNEL_FULL_VERSION', 'KERNEL_X', 'KERNEL_Y', 'KERNEL_Z', 'KERNEL_XYZ', 'MOD_NAME'] as const;
export type TagPlaceholder = (typeof TAG_PLACEHOLDERS)[number];

/** The default template: the per-arch kernel tag, as KMM looks it up. */
export const DEFAULT_TAG_TEMPLATE = '${KERNEL_FULL_VERSION}';

const TEMPLATE_MAX_LENGTH = 200;
const LITERAL = /^[A-Za-z0-9._-]$/;

/** Returns the tag, or throws an Error naming it and the grammar. */
export function validateTag(tag: string): string {
  if (!TAG_PATTERN.test(tag)) {
    throw new Error(`${quoteUntrusted(tag)} is not an image tag: it must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  return tag;
}

type Part = { readonly literal: string } | { readonly placeholder: TagPlaceholder };

/** Splits a template into literals and known placeholders; throws on anything else. */
export function parseTagTemplate(template: string): readonly Part[] {
  if (template.length === 0 || template.length > TEMPLATE_MAX_LENGTH) {
    throw new Error(`tag template must be 1 to ${TEMPLATE_MAX_LENGTH} characters, got ${template.length}`);
  }
  const parts: Part[] = [];
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('${', i)) {
      const end = template.indexOf('}', i);
      const name = end === -1 ? '' : template.slice(i + 2, end);
      if (!(TAG_PLACEHOLDERS as readonly string[]).includes(name)) {
        throw new Error(
          `tag template ${quoteUntrusted(template)} has an unknown or unclosed placeholder at offset ${i}; ` +
            `known: ${TAG_PLACEHOLDERS.map((p) => `\${${p}}`).join(', ')}`,
        );
      }
      parts.push({ placeholder: name as TagPlaceholder });
      i = end + 1;
      continue;
    }
    const c = template[i] ?? '';
    if (!LITERAL.test(c)) {
      throw new Error(`tag template ${quoteUntrusted(template)} has the character ${quoteUntrusted(c)} at offset ${i}; only [A-Za-z0-9._-] and placeholders are allowed`);
    }
    parts.push({ literal: c });
    i++;
  }
  return parts;
}

export interface TagValues {
  readonly kernel: BuildKernel;
  /** KMM's `${MOD_NAME}`. @default - the template must not use ${MOD_NAME} */
  readonly modName?: string;
}

export interface RenderTagOptions {
  /**
   * Render the multi-arch tag: `${KERNEL_FULL_VERSION}` becomes the kernel without arch.
   * Only base kernels have one (see the module comment). @default false
   */
  readonly multiArch?: boolean;
}

/** Checks that a template is usable for per-arch builds (parses, and carries the arch). */
export function validateTagTemplate(template: string): string {
  const parts = parseTagTemplate(template);
  if (!parts.some((p) => 'placeholder' in p && p.placeholder === 'KERNEL_FULL_VERSION')) {
    throw new Error(
      `tag template ${quoteUntrusted(template)} must contain \${KERNEL_FULL_VERSION}: it is the only placeholder that differs between arches, ` +
        'so without it the x86_64 and aarch64 builds would push the same tag',
    );
  }
  return template;
}

/** Renders a KMM tag template into a validated tag. */
export function renderTagTemplate(template: string, values: TagValues, options: RenderTagOptions = {}): string {
  validateTagTemplate(template);
  const { kernel } = values;
  if (options.multiArch && kernel.flavour !== 'base') {
    throw new Error(`${kernel.full} is a ${kernel.flavour} kernel, which exists on one arch only: it has no multi-arch tag`);
  }
  const value = (p: TagPlaceholder): string => {
    switch (p) {
      case 'KERNEL_FULL_VERSION':
        return options.multiArch ? kernel.withoutArch : kernel.full;
      case 'KERNEL_X':
        return String(kernel.x);
      case 'KERNEL_Y':
        return String(kernel.y);
      case 'KERNEL_Z':
        return String(kernel.z);
      case 'KERNEL_XYZ':
        return `${kernel.x}.${kernel.y}.${kernel.z}`;
      case 'MOD_NAME':
        if (values.modName === undefined) throw new Error('tag template uses ${MOD_NAME} but no module name was given');
        return values.modName;
    }
  };
  const tag = parseTagTemplate(template)
    .map((part) => ('literal' in part ? part.literal : kernelTag(value(part.placeholder))))
    .join('');
  return validateTag(tag);
}

/** The per-arch tag of a kernel's DTK image: `5.14.0-427.68.1.el9_4.x86_64`. */
export function perArchTag(kernel: BuildKernel): string {
  return validateTag(kernelTag(kernel.full));
}

/** The multi-arch tag of a base kernel: `5.14.0-427.68.1.el9_4`. Throws for RT and 64k kernels. */
export function multiArchTag(kernel: BuildKernel): string {
  return renderTagTemplate(DEFAULT_TAG_TEMPLATE, { kernel }, { multiArch: true });
}
