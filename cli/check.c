/* check.c: `jobfreeze check`: prints, as text or JSON, which kernel features
 * a freeze and a thaw rely on and whether each works here (ckpt/features.c),
 * and the hardened system's settings that stop them (ckpt/hardening.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ckpt/features.h"
#include "ckpt/hardening.h"
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "cli/cli.h"
#include "session/check.h"

static void json_string(FILE *f, const char *s);

static void check_usage(FILE *f)
{
	fprintf(f,
		"usage: jobfreeze check [-q | --json] [-v[N]] [-o LOG]\n"
		"       jobfreeze check --image DIR [--ignore-cpu-features] [--json]\n\n"
		"Probes, with short-lived child processes, every kernel feature that\n"
		"freezing and thawing rely on, and prints one line per feature: ok or\n"
		"missing, what was seen, and what a missing feature costs; then the\n"
		"settings of hardened systems (kernel.yama.ptrace_scope, AppArmor's\n"
		"kernel.apparmor_restrict_unprivileged_userns) and, when one stops a\n"
		"freeze or a thaw, what to do about it.\n\n"
		"  -q, --quiet   print only the verdict line\n"
		"  -j, --json    print a JSON object: kernel, machine, freeze, thaw and\n"
		"                features [{name, ok, required, needed_for, detail, cost}]\n"
		"                (cost is what the feature's absence would cost) and\n"
		"                hardening {yama_ptrace_scope, apparmor_restrict_unprivileged_userns,\n"
		"                apparmor_label, advice} (-1: the kernel has no such setting)\n"
		"  -v[N]         more engine messages (0-4); -o LOG sends them to LOG\n"
		"  -h, --help    this help\n\n"
		"With --image DIR: whether this machine can thaw the job in the image\n"
		"directory DIR, and if not every reason: files of the job that are gone or\n"
		"changed, what its state needs of this kernel (its vDSO's functions,\n"
		"POSIX timer ids, ...) and of this CPU (instruction-set features, vector\n"
		"registers), the kernel features a thaw needs.\n"
		"  -i, --image DIR          the image directory to check\n"
		"      --ignore-cpu-features  CPU features this CPU lacks are warnings, not\n"
		"                           reasons (as restore and thaw take them)\n"
		"  -j, --json               {image, thaw, readable, reasons[], warnings[]}\n\n"
		"Exit status: 0 when both a freeze and a thaw can work here (with --image:\n"
		"when this machine can thaw the image), 1 when not, 2 on a usage error.\n");
}

void cli_print_verdict_fields(FILE *f, const struct thaw_verdict *v)
{
	fprintf(f, "\"thaw\":%s,\"readable\":%s,\"reasons\":[", v->status == 0 ? "true" : "false",
		v->status >= 0 ? "true" : "false");
	for (size_t i = 0; i < v->n_reasons; i++) {
		fputs(i ? "," : "", f);
		json_string(f, v->reasons[i]);
	}
	fputs("],\"warnings\":[", f);
	for (size_t i = 0; i < v->n_warnings; i++) {
		fputs(i ? "," : "", f);
		json_string(f, v->warnings[i]);
	}
	fputc(']', f);
}

void cli_print_verdict(FILE *f, const char *what, const struct thaw_verdict *v)
{
	fprintf(f, "%s %s\n", what, v->status == 0 ? "can be thawed here" :
		v->status > 0 ? "cannot be thawed here:" : "cannot be read:");
	for (size_t i = 0; i < v->n_reasons; i++)
		fprintf(f, "  - %s\n", v->reasons[i]);
	for (size_t i = 0; i < v->n_warnings; i++)
		fprintf(f, "  (warning: %s)\n", v->warnings[i]);
}

/* check --image DIR */
static int check_image(const char *dir, bool ignore_cpu, bool json)
{
	struct thaw_verdict v;
	char *what;
	int ret;

	session_check_images(dir, ignore_cpu, &v);
	if (json) {
		fputs("{\"image\":", stdout);
		json_string(stdout, dir);
		fputc(',', stdout);
		cli_print_verdict_fields(stdout, &v);
		fputs("}\n", stdout);
	} else {
		what = xasprintf("the job in %s", dir);
		cli_print_verdict(stdout, what, &v);
		free(what);
	}
	ret = v.status == 0 ? 0 : 1;
	thaw_verdict_free(&v);
	return ret;
}

/* The settings of a hardened system that stop a freeze or a thaw (Yama,
 * AppArmor), read next to the probes: the probes say what fails, these
 * say why and what the user can do. */
struct hardening {
	int yama_scope;		/* -1: no Yama */
	int aa_userns;		/* -1: no such setting */
	char *aa_label;		/* NULL: no AppArmor */
	char *yama_advice;	/* NULL: nothing to say */
	char *aa_advice;
};

static void hardening_read(struct hardening *h)
{
	h->yama_scope = hardening_yama_scope();
	h->aa_userns = hardening_aa_userns();
	h->aa_label = hardening_aa_label();
	h->yama_advice = hardening_yama_advice(h->yama_scope);
	h->aa_advice = hardening_aa_advice(h->aa_userns, h->aa_label);
}

static void hardening_free(struct hardening *h)
{
	free(h->aa_label);
	free(h->yama_advice);
	free(h->aa_advice);
}

static void verdict_part(FILE *f, const struct feature_report *rep, unsigned use,
			 const char *what, bool ok)
{
	bool first = true;

	fprintf(f, "%s: %s", what, ok ? "possible" : "not possible (missing");
	if (ok)
		return;
	for (size_t i = 0; i < rep->n; i++) {
		if (rep->f[i].ok || !(rep->f[i].needed_for & use))
			continue;
		fprintf(f, "%s%s", first ? " " : ", ", rep->f[i].name);
		first = false;
	}
	fputc(')', f);
}

static void print_verdict(FILE *f, const struct feature_report *rep, const struct hardening *h)
{
	verdict_part(f, rep, FEATURE_FREEZE, "freeze", rep->freeze_ok);
	/* the probes trace their own children, which Yama's scopes 1 and 2
	 * leave alone: a shell's jobs are another matter */
	if (rep->freeze_ok && (h->yama_scope == 1 || h->yama_scope == 2))
		fprintf(f, " (as root, or of jobs jobfreeze thawed: kernel.yama.ptrace_scope=%d)",
			h->yama_scope);
	fputs("   ", f);
	verdict_part(f, rep, FEATURE_THAW, "thaw", rep->thaw_ok);
	fputc('\n', f);
}

/* A sysctl's value for the report; "absent" when the kernel has none. */
static const char *setting(int v, char buf[16])
{
	if (v < 0)
		return "absent";
	snprintf(buf, 16, "%d", v);
	return buf;
}

static void print_text(FILE *f, const struct feature_report *rep, const struct hardening *h)
{
	char yama[16], aa[16];
	int width = 0;

	for (size_t i = 0; i < rep->n; i++) {
		int n = (int)strlen(rep->f[i].name);
		if (n > width)
			width = n;
	}
	fprintf(f, "jobfreeze check: kernel %s, %s\n", rep->kernel, rep->machine);
	for (size_t i = 0; i < rep->n; i++) {
		const struct feature_result *r = &rep->f[i];

		fprintf(f, "  %-8s %-*s %s", r->ok ? "ok" : "missing", width, r->name,
			r->detail);
		if (!r->ok && r->cost)
			fprintf(f, "   (costs: %s)", r->cost);
		fputc('\n', f);
	}
	fprintf(f, "  hardening: kernel.yama.ptrace_scope %s, kernel.apparmor_restrict_unprivileged_userns %s",
		setting(h->yama_scope, yama), setting(h->aa_userns, aa));
	if (h->aa_label)
		fprintf(f, ", AppArmor label %s", h->aa_label);
	fputc('\n', f);
	if (h->yama_advice)
		fprintf(f, "  %s\n", h->yama_advice);
	if (h->aa_advice)
		fprintf(f, "  %s\n", h->aa_advice);
	print_verdict(f, rep, h);
}

static void json_string(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_json(FILE *f, const struct feature_report *rep, const struct hardening *h)
{
	fputs("{\"kernel\":", f);
	json_string(f, rep->kernel);
	fputs(",\"machine\":", f);
	json_string(f, rep->machine);
	fprintf(f, ",\"freeze\":%s,\"thaw\":%s,\"features\":[",
		rep->freeze_ok ? "true" : "false", rep->thaw_ok ? "true" : "false");
	for (size_t i = 0; i < rep->n; i++) {
		const struct feature_result *r = &rep->f[i];
		unsigned u = r->needed_for;

		fprintf(f, "%s\n {\"name\":", i ? "," : "");
		json_string(f, r->name);
		fprintf(f, ",\"ok\":%s,\"required\":%s,\"needed_for\":[%s%s%s],\"detail\":",
			r->ok ? "true" : "false", r->required ? "true" : "false",
			u & FEATURE_FREEZE ? "\"freeze\"" : "",
			(u & FEATURE_FREEZE) && (u & FEATURE_THAW) ? "," : "",
			u & FEATURE_THAW ? "\"thaw\"" : "");
		json_string(f, r->detail);
		fputs(",\"cost\":", f);
		json_string(f, r->cost);
		fputc('}', f);
	}
	fprintf(f, "\n],\"hardening\":{\"yama_ptrace_scope\":%d,\"apparmor_restrict_unprivileged_userns\":%d,"
		"\"apparmor_label\":", h->yama_scope, h->aa_userns);
	json_string(f, h->aa_label);
	fputs(",\"advice\":[", f);
	if (h->yama_advice)
		json_string(f, h->yama_advice);
	if (h->aa_advice) {
		if (h->yama_advice)
			fputc(',', f);
		json_string(f, h->aa_advice);
	}
	fputs("]}}\n", f);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help",  no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json",  no_argument, NULL, 'j' },
		{ "image", required_argument, NULL, 'i' },
		{ "ignore-cpu-features", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct feature_report rep;
	struct hardening h;
	bool quiet = false, json = false, ignore_cpu = false;
	const char *image = NULL;
	int opt;

	optind = 0;	/* glibc: start afresh, cmd_check may be called again */
	while ((opt = getopt_long(argc, argv, "+hqji:o:v::", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			image = optarg;
			break;
		case 'C':
			ignore_cpu = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'j':
			json = true;
			break;
		default: {
			int code = cli_common_option(opt, optarg, check_usage);
			if (code >= 0)
				return code;
			break;
		}
		}
	}
	if (optind < argc) {
		cli_error("check takes no arguments, not '%s'", argv[optind]);
		return 2;
	}
	if (image)
		return check_image(image, ignore_cpu, json);
	if (ignore_cpu) {
		cli_error("--ignore-cpu-features goes with --image DIR");
		return 2;
	}
	if (features_probe_all(&rep) < 0) {
		cli_error("cannot probe the kernel features: %m");
		return 1;
	}
	hardening_read(&h);
	if (json)
		print_json(stdout, &rep, &h);
	else if (quiet)
		print_verdict(stdout, &rep, &h);
	else
		print_text(stdout, &rep, &h);
	hardening_free(&h);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error("cannot write the report: %m");
		return 1;
	}
	return rep.freeze_ok && rep.thaw_ok ? 0 : 1;
}
