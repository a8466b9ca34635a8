/**
 * Values an attacker could smuggle into a build parameter (a kernel string read from an
 * image label, a tag template from a driver definition). Every validator and every
 * build script must refuse each of them.
 */
export const MALICIOUS_KERNELS = [
  '5.14.0-427.68.1.el9_4.x86_64;id',
  '5.14.0-427.68.1.el9_4.x86_64$(id)',
  '5.14.0-427.68.1.el9_4.x86_64`id`',
  '5.14.0-427.68.1.el9_4.x86_64\nBUILD_RESULT=pushed',
  '../../5.14.0-427.68.1.el9_4.x86_64',
  '5.14.0-427.68.1.el9_4.x86_64 --help',
  '5.14.0-427.68.1.el9_4.x86_64|cat',
];

export const MALICIOUS_TEMPLATES = [
  '${KERNEL_FULL_VERSION};id',
  '$(id)${KERNEL_FULL_VERSION}',
  '`id`${KERNEL_FULL_VERSION}',
  '${KERNEL_FULL_VERSION}\nBUILD_RESULT=pushed',
  '../${KERNEL_FULL_VERSION}',
  'a ${KERNEL_FULL_VERSION}',
  '${KERNEL_FULL_VERSION}|cat',
  '${KERNEL_FULL_VERSION:-x}',
  '${PATH}${KERNEL_FULL_VERSION}',
  '$KERNEL_FULL_VERSION',
  '${KERNEL_FULL_VERSION',
];
