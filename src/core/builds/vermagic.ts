/**
 * The vermagic gate of driver images: before a driver image is pushed, every kernel
 * module under `/opt/lib/modules/<kernel>/` must have a `vermagic` that starts with the
 * target kernel (docs/images.md), and `depmod -b /opt <kernel>` must have run
 * (`modules.dep` exists), as KMM expects.
 *
 * `vermagic` is read from the module's ELF `.modinfo` section (NUL-separated
 * `key=value` strings), in TypeScript, so the check needs no `modinfo` in the image or
 * on the build machine and works for modules of any arch and byte order. Compressed
 * modules (`.ko.gz`, `.ko.xz`, `.ko.zst`) are decompressed first (xz and zstd with the
 * system tools).
 *
 * "Starts with the kernel" means the kernel followed by a space or the end: the vermagic
 * of an RT module, `5.14.0-427.68.1.el9_4.x86_64+rt SMP …`, must not pass for
 * `5.14.0-427.68.1.el9_4.x86_64`.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { quoteUntrusted } from '../kernel.ts';

const execFileAsync = promisify(execFile);

const MODULE_SUFFIXES = ['.ko', '.ko.gz', '.ko.xz', '.ko.zst'] as const;
const MAX_MODULE_BYTES = 512 * 1024 * 1024;

/** The module gate refused an image. */
export class VermagicError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VermagicError';
  }
}

/** All `key=value` entries of an ELF object's `.modinfo` section; throws if it is not ELF or has none. */
export function readModinfo(elf: Buffer): Map<string, string[]> {
  if (elf.length < 52 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  const cls = elf[4];
  const data = elf[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) throw new Error('unknown ELF class or byte order');
  const is64 = cls === 2;
  const le = data === 1;
  const u16 = (o: number): number => (le ? elf.readUInt16LE(o) : elf.readUInt16BE(o));
  const u32 = (o: number): number => (le ? elf.readUInt32LE(o) : elf.readUInt32BE(o));
  const u64 = (o: number): number => Number(le ? elf.readBigUInt64LE(o) : elf.readBigUInt64BE(o));
  const word = (o: number): number => (is64 ? u64(o) : u32(o));

  const shoff = is64 ? u64(0x28) : u32(0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const shstrndx = u16(is64 ? 0x3e : 0x32);
  if (shoff === 0 || shnum === 0 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) {
    throw new Error('ELF section headers are missing or out of bounds');
  }
  const section = (i: number): { name: number; offset: number; size: number } => {
    const base = shoff + i * shentsize;
    return { name: u32(base), offset: word(base + (is64 ? 24 : 16)), size: word(base + (is64 ? 32 : 20)) };
  };
  const strtab = section(shstrndx);
  const nameOf = (offset: number): string => {
    const start = strtab.offset + offset;
    const end = elf.indexOf(0, start);
    return elf.toString('latin1', start, end === -1 ? start : end);
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameOf(s.name) !== '.modinfo') continue;
    if (s.offset + s.size > elf.length) throw new Error('.modinfo section is out of bounds');
    const entries = new Map<string, string[]>();
    for (const entry of elf.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      entries.set(key, [...(entries.get(key) ?? []), entry.slice(eq + 1)]);
    }
    return entries;
  }
  throw new Error('no .modinfo section (not a kernel module)');
}

/** The `vermagic` of a kernel module. */
export function readVermagic(elf: Buffer): string {
  const values = readModinfo(elf).get('vermagic');
  if (values === undefined || values.length !== 1 || values[0] === undefined) {
    throw new Error(`.modinfo has ${values?.length ?? 0} vermagic entries, expected exactly one`);
  }
  return values[0];
}

/** True when `vermagic` is for `kernel`: the kernel string, then a space or the end. */
export function vermagicMatches(vermagic: string, kernel: string): boolean {
  return vermagic === kernel || vermagic.startsWith(`${kernel} `);
}

async function listModules(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if ((entry.isFile() || entry.isSymbolicLink()) && MODULE_SUFFIXES.some((s) => entry.name.endsWith(s))) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

async function moduleBytes(path: string): Promise<Buffer> {
  if ((await stat(path)).size > MAX_MODULE_BYTES) throw new VermagicError(`${path} is larger than ${MAX_MODULE_BYTES} bytes`);
  if (path.endsWith('.ko')) return readFile(path);
  if (path.endsWith('.ko.gz')) return gunzipSync(await readFile(path));
  const tool = path.endsWith('.ko.xz') ? 'xz' : 'zstd';
  const { stdout } = await execFileAsync(tool, ['-dc', '--', path], { encoding: 'buffer', maxBuffer: MAX_MODULE_BYTES });
  return stdout;
}

export interface CheckedModule {
  /** Path relative to the modules directory. */
  readonly path: string;
  readonly vermagic: string;
}

/**
 * Checks the modules of a driver image, given `/opt/lib/modules/<kernel>` of its root
 * file system. Resolves with every module and its vermagic; throws VermagicError
 * naming the first module whose vermagic is for another kernel, or when there is no
 * module or no `modules.dep`.
 */
export async function checkModules(modulesDir: string, kernel: string): Promise<CheckedModule[]> {
  let modules: string[];
  try {
    modules = await listModules(modulesDir);
  } catch (err) {
    throw new VermagicError(`cannot read ${modulesDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (driver images keep their modules under /opt/lib/modules/<kernel>/)`);
  }
  if (modules.length === 0) throw new VermagicError(`no kernel module (.ko) under ${modulesDir}`);
  const checked: CheckedModule[] = [];
  for (const path of modules) {
    const rel = relative(modulesDir, path);
    let vermagic: string;
    try {
      vermagic = readVermagic(await moduleBytes(path));
    } catch (err) {
      if (err instanceof VermagicError) throw err;
      throw new VermagicError(`cannot read vermagic of ${rel}: ${(err as Error).message}`);
    }
    if (!vermagicMatches(vermagic, kernel)) {
      throw new VermagicError(
        `vermagic mismatch: ${rel} has vermagic ${quoteUntrusted(vermagic)}, which does not start with the target kernel ${kernel}`,
      );
    }
    checked.push({ path: rel, vermagic });
  }
  try {
    await stat(join(modulesDir, 'modules.dep'));
  } catch {
    throw new VermagicError(`no modules.dep in ${modulesDir}: run \`depmod -b /opt <kernel>\` in the image (KMM's layout)`);
  }
  return checked;
}
