// SPDX-License-Identifier: GPL-2.0
/*
 * dtk_example: the example partner driver bundled with the pipeline. It does nothing
 * but say hello and goodbye; it exists to prove a module builds against a DTK's kernel
 * headers and carries that kernel's vermagic.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init dtk_example_init(void)
{
	pr_info("dtk_example: loaded\n");
	return 0;
}

static void __exit dtk_example_exit(void)
{
	pr_info("dtk_example: unloaded\n");
}

module_init(dtk_example_init);
module_exit(dtk_example_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Example out-of-tree module built by the driver-toolkit pipeline");
MODULE_VERSION("1.0");
