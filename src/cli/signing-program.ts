/**
 * Commander wiring of the signing commands (kept out of main.ts so the program's
 * other commands stay readable): `signing cert`, `sign-modules`, `sign-image`,
 * `ocp image-policy`.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import type { CommandIo } from './scan-command.ts';
import { certFlagsSchema, runSignModules, runSigningCert, signModulesFlagsSchema } from './signing-command.ts';

const KEY_HELP = {
  kms: 'AWS KMS key id, ARN or alias (RSA for modules, ECC_NIST_P256 for images)',
  secret: 'Secrets Manager secret holding a PEM private key (instead of --kms-key-id)',
} as const;

export function addSigningCommands(program: Command, io: CommandIo, setExit: (code: number) => void, usage: (message: string) => Error): void {
  const parse = <T>(schema: z.ZodType<T>, value: unknown): T => {
    const flags = schema.safeParse(value);
    if (!flags.success) throw usage(flags.error.issues[0]?.message ?? z.prettifyError(flags.error));
    return flags.data;
  };

  const signing = program.command('signing').description('Signing keys and certificates.');
  signing
    .command('cert')
    .description('Write the self-signed X.509 certificate of a signing key, signed by the key (enroll it with `mokutil --import FILE.der`).')
    .option('--kms-key-id <key>', KEY_HELP.kms)
    .option('--key-secret <id>', KEY_HELP.secret)
    .option('--subject <dn>', 'subject and issuer, e.g. "CN=Acme driver signing,O=Acme"')
    .option('--days <n>', 'validity in days (default 3650)')
    .option('--out <file>', 'where to write the DER certificate')
    .action(async (options: Record<string, unknown>) => {
      const flags = parse(certFlagsSchema, {
        kmsKeyId: options['kmsKeyId'],
        keySecret: options['keySecret'],
        subject: options['subject'],
        out: options['out'],
        days: options['days'],
      });
      setExit(await runSigningCert(flags, io));
    });

  program
    .command('sign-modules')
    .description('Sign every .ko under --dir in place in the kernel module signature format (a signed module is re-signed).')
    .option('--dir <dir>', 'directory searched recursively for .ko files')
    .option('--kms-key-id <key>', KEY_HELP.kms)
    .option('--key-secret <id>', KEY_HELP.secret)
    .option('--cert <file>', 'the key\'s certificate (DER or PEM), from `dtk-pipeline signing cert`')
    .option('--signed-attributes', 'sign CMS authenticated attributes (openssl accepts them; Linux module loading REJECTS them)', false)
    .action(async (options: Record<string, unknown>) => {
      const flags = parse(signModulesFlagsSchema, {
        dir: options['dir'],
        kmsKeyId: options['kmsKeyId'],
        keySecret: options['keySecret'],
        cert: options['cert'],
        signedAttributes: options['signedAttributes'],
      });
      setExit(await runSignModules(flags, io));
    });
}
