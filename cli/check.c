/* check.c: `jobfreeze check`: prints, as text or JSON, which kernel features
 * a freeze and a thaw rely on and whether each works here (ckpt/features.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "ckpt/features.h"
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "cli/cli.h"

static void check_usage(FILE *f)
{
	fprintf(f,
		"usage: jobfreeze check [-q | --json] [-v[N]] [-o LOG]\n\n"
		"Probes, with short-lived child processes, every kernel feature that\n"
		"freezing and thawing rely on, and prints one line per feature: ok or\n"
		"missing, what was seen, and what a missing feature costs.\n\n"
		"  -q, --quiet   print only the verdict line\n"
		"  -j, --json    print a JSON object: kernel, machine, freeze, thaw and\n"
		"                features [{name, ok, required, needed_for, detail, cost}]\n"
		"                (cost is what the feature's absence would cost)\n"
		"  -v[N]         more engine messages (0-4); -o LOG sends them to LOG\n"
		"  -h, --help    this help\n\n"
		"Exit status: 0 when both a freeze and a thaw can work here, 1 when a\n"
		"required feature is missing, 2 on a usage error.\n");
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

static void print_verdict(FILE *f, const struct feature_report *rep)
{
	verdict_part(f, rep, FEATURE_FREEZE, "freeze", rep->freeze_ok);
	fputs("   ", f);
	verdict_part(f, rep, FEATURE_THAW, "thaw", rep->thaw_ok);
	fputc('\n', f);
}

static void print_text(FILE *f, const struct feature_report *rep)
{
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
	print_verdict(f, rep);
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

static void print_json(FILE *f, const struct feature_report *rep)
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
	fputs("\n]}\n", f);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help",  no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json",  no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct feature_report rep;
	bool quiet = false, json = false;
	int opt;

	optind = 0;	/* glibc: start afresh, cmd_check may be called again */
	while ((opt = getopt_long(argc, argv, "+hqjo:v::", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			check_usage(stdout);
			return 0;
		case 'q':
			quiet = true;
			break;
		case 'j':
			json = true;
			break;
		case 'o':
		case 'v': {
			int r = cli_log_option(opt, optarg);
			if (r == -2)
				return 2;
			break;
		}
		default:
			check_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		cli_error("check takes no arguments, not '%s'", argv[optind]);
		return 2;
	}
	if (features_probe_all(&rep) < 0) {
		cli_error("cannot probe the kernel features: %m");
		return 1;
	}
	if (json)
		print_json(stdout, &rep);
	else if (quiet)
		print_verdict(stdout, &rep);
	else
		print_text(stdout, &rep);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error("cannot write the report: %m");
		return 1;
	}
	return rep.freeze_ok && rep.thaw_ok ? 0 : 1;
}
