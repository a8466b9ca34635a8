import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkModules, readModinfo, readVermagic, vermagicMatches } from '#core/builds/vermagic.ts';

/** A minimal relocatable ELF with a `.modinfo` section, in either class and byte order. */
function elf(modinfo: string, options: { bits: 32 | 64; endian: 'le' | 'be' } = { bits: 64, endian: 'le' }): Buffer {
  const is64 = options.bits === 64;
  const le = options.endian === 'le';
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const shstrtab = Buffer.from('\0.modinfo\0.shstrtab\0', 'latin1');
  const info = Buffer.from(modinfo, 'utf8');
  const infoOff = ehsize;
  const strOff = infoOff + info.length;
  const shoff = strOff + shstrtab.length;
  const buf = Buffer.alloc(shoff + 3 * shentsize);
  const u16 = (v: number, o: number) => (le ? buf.writeUInt16LE(v, o) : buf.writeUInt16BE(v, o));
  const u32 = (v: number, o: number) => (le ? buf.writeUInt32LE(v, o) : buf.writeUInt32BE(v, o));
  const word = (v: number, o: number) =>
    is64 ? (le ? buf.writeBigUInt64LE(BigInt(v), o) : buf.writeBigUInt64BE(BigInt(v), o)) : u32(v, o);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = is64 ? 2 : 1;
  buf[5] = le ? 1 : 2;
  buf[6] = 1;
  u16(1, 16); // ET_REL
  word(shoff, is64 ? 0x28 : 0x20);
  u16(ehsize, is64 ? 0x34 : 0x28);
  u16(shentsize, is64 ? 0x3a : 0x2e);
  u16(3, is64 ? 0x3c : 0x30);
  u16(2, is64 ? 0x3e : 0x32);
  info.copy(buf, infoOff);
  shstrtab.copy(buf, strOff);
  const section = (i: number, name: number, type: number, offset: number, size: number) => {
    const base = shoff + i * shentsize;
    u32(name, base);
    u32(type, base + 4);
    word(offset, base + (is64 ? 24 : 16));
    word(size, base + (is64 ? 32 : 20));
  };
  section(1, 1, 1, infoOff, info.length); // .modinfo, PROGBITS
  section(2, 10, 3, strOff, shstrtab.length); // .shstrtab, STRTAB
  return buf;
}

const modinfo = (vermagic: string) => `license=GPL\0description=x\0name=dtk_example\0vermagic=${vermagic}\0\0\0`;
const KERNEL = '5.14.0-427.68.1.el9_4.x86_64';

describe('readVermagic', () => {
  it.each([
    [64, 'le'],
    [64, 'be'],
    [32, 'le'],
    [32, 'be'],
  ] as const)('reads .modinfo of a %d-bit %s module', (bits, endian) => {
    expect(readVermagic(elf(modinfo(`${KERNEL} SMP mod_unload modversions `), { bits, endian }))).toBe(`${KERNEL} SMP mod_unload modversions `);
  });

  it('reads every key', () => {
    expect(readModinfo(elf(modinfo('x'))).get('name')).toEqual(['dtk_example']);
  });

  it('refuses what is not a module', () => {
    expect(() => readVermagic(Buffer.from('#!/bin/sh\necho not a module\n'.padEnd(64, ' ')))).toThrow(/not an ELF file/);
    expect(() => readVermagic(elf('license=GPL\0'))).toThrow(/0 vermagic entries/);
  });
});

describe('vermagicMatches', () => {
  it('needs the kernel followed by a space or the end', () => {
    expect(vermagicMatches(`${KERNEL} SMP mod_unload`, KERNEL)).toBe(true);
    expect(vermagicMatches(KERNEL, KERNEL)).toBe(true);
    expect(vermagicMatches(`${KERNEL}+rt SMP PREEMPT_RT mod_unload`, KERNEL)).toBe(false);
    expect(vermagicMatches('6.1.0-50-cloud-amd64 SMP', '6.1.0-50-amd64')).toBe(false);
  });
});

describe('checkModules', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vermagic-'));
    await mkdir(join(dir, 'extra'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes modules built for the kernel, compressed or not, once depmod has run', async () => {
    await writeFile(join(dir, 'extra', 'a.ko'), elf(modinfo(`${KERNEL} SMP mod_unload `)));
    await writeFile(join(dir, 'extra', 'b.ko.gz'), gzipSync(elf(modinfo(`${KERNEL} SMP mod_unload `))));
    await writeFile(join(dir, 'modules.dep'), 'extra/a.ko:\nextra/b.ko.gz:\n');
    expect(await checkModules(dir, KERNEL)).toEqual([
      { path: 'extra/a.ko', vermagic: `${KERNEL} SMP mod_unload ` },
      { path: 'extra/b.ko.gz', vermagic: `${KERNEL} SMP mod_unload ` },
    ]);
  });

  it('names the module built for another kernel', async () => {
    await writeFile(join(dir, 'extra', 'a.ko'), elf(modinfo(`${KERNEL} SMP`)));
    await writeFile(join(dir, 'extra', 'z.ko'), elf(modinfo('5.14.0-427.68.1.el9_4.x86_64+rt SMP PREEMPT_RT')));
    await writeFile(join(dir, 'modules.dep'), '');
    await expect(checkModules(dir, KERNEL)).rejects.toThrow(
      /^vermagic mismatch: extra\/z\.ko has vermagic "5\.14\.0-427\.68\.1\.el9_4\.x86_64\+rt SMP PREEMPT_RT", which does not start with the target kernel 5\.14\.0-427\.68\.1\.el9_4\.x86_64$/,
    );
  });

  it('refuses an image without modules, or without modules.dep', async () => {
    await expect(checkModules(dir, KERNEL)).rejects.toThrow(/no kernel module/);
    await writeFile(join(dir, 'extra', 'a.ko'), elf(modinfo(KERNEL)));
    await expect(checkModules(dir, KERNEL)).rejects.toThrow(/no modules.dep/);
    await expect(checkModules(join(dir, 'missing'), KERNEL)).rejects.toThrow(/cannot read .*ENOENT/);
  });

  it('refuses a .ko that is not a module', async () => {
    await writeFile(join(dir, 'extra', 'bad.ko'), 'not elf');
    await expect(checkModules(dir, KERNEL)).rejects.toThrow(/cannot read vermagic of extra\/bad\.ko/);
  });
});
