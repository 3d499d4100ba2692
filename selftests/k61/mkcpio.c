// SPDX-License-Identifier: GPL-2.0
/* mkcpio.c - write an initramfs (cpio "newc", uncompressed) from a list.
 *
 * Usage: mkcpio OUT < LIST, one entry a line (modes in octal):
 *   dir  PATH MODE
 *   file PATH SRC MODE
 *   nod  PATH MODE c|b MAJOR MINOR
 * Device nodes are written as entries, so no root and no mknod on the host
 * are needed (the kernel creates them when it unpacks the archive).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static unsigned int ino = 721;

static int pad4(FILE *out)
{
	static const char zero[4];
	long pos = ftell(out);

	return pos < 0 || fwrite(zero, 1, (4 - pos % 4) % 4, out) != (size_t)((4 - pos % 4) % 4);
}

static int header(FILE *out, const char *name, unsigned int mode, unsigned long size,
		  unsigned int rmaj, unsigned int rmin)
{
	size_t nlen = strlen(name) + 1;

	if (fprintf(out, "070701%08X%08X%08X%08X%08X%08X%08lX%08X%08X%08X%08X%08zX%08X", ino++,
		    mode, 0u, 0u, S_ISDIR(mode) ? 2u : 1u, 0u, size, 0u, 0u, rmaj, rmin, nlen,
		    0u) < 0)
		return -1;
	if (fwrite(name, 1, nlen, out) != nlen)
		return -1;
	return pad4(out);
}

static int add_file(FILE *out, const char *path, const char *src, unsigned int mode)
{
	FILE *in = fopen(src, "rb");
	char *buf;
	long len;
	int err;

	if (!in) {
		fprintf(stderr, "mkcpio: %s: %s\n", src, strerror(errno));
		return -1;
	}
	if (fseek(in, 0, SEEK_END) || (len = ftell(in)) < 0 || fseek(in, 0, SEEK_SET)) {
		fprintf(stderr, "mkcpio: %s: cannot get its size\n", src);
		fclose(in);
		return -1;
	}
	buf = malloc(len ? len : 1);
	if (!buf || fread(buf, 1, len, in) != (size_t)len) {
		fprintf(stderr, "mkcpio: %s: cannot read it\n", src);
		free(buf);
		fclose(in);
		return -1;
	}
	fclose(in);
	err = header(out, path, S_IFREG | mode, len, 0, 0);
	if (!err && fwrite(buf, 1, len, out) != (size_t)len)
		err = -1;
	free(buf);
	return err ? err : pad4(out);
}

static int add_line(FILE *out, char *line, int lineno)
{
	char kind[8], path[512], src[1024], type;
	unsigned int mode, maj, min;

	if (sscanf(line, "%7s", kind) != 1 || kind[0] == '#')
		return 0;
	if (!strcmp(kind, "dir") && sscanf(line, "%*s %511s %o", path, &mode) == 2)
		return header(out, path, S_IFDIR | mode, 0, 0, 0);
	if (!strcmp(kind, "file") && sscanf(line, "%*s %511s %1023s %o", path, src, &mode) == 3)
		return add_file(out, path, src, mode);
	if (!strcmp(kind, "nod") &&
	    sscanf(line, "%*s %511s %o %c %u %u", path, &mode, &type, &maj, &min) == 5 &&
	    (type == 'c' || type == 'b'))
		return header(out, path, (type == 'c' ? S_IFCHR : S_IFBLK) | mode, 0, maj, min);
	fprintf(stderr, "mkcpio: line %d: cannot parse: %s", lineno, line);
	return -1;
}

int main(int argc, char **argv)
{
	char line[2048];
	int lineno = 0, err = 0;
	FILE *out;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT < LIST\n", argv[0]);
		return 2;
	}
	out = fopen(argv[1], "wb");
	if (!out) {
		fprintf(stderr, "mkcpio: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (!err && fgets(line, sizeof(line), stdin))
		err = add_line(out, line, ++lineno);
	if (!err)
		err = header(out, "TRAILER!!!", 0, 0, 0, 0);
	if (fclose(out) || err) {
		remove(argv[1]);
		return 1;
	}
	return 0;
}
