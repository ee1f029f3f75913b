/* main.c - the `resnet` command: subcommand dispatch and the overall usage. Each command's
 * options and help live beside its code (a cli_command in its file); this file lists them. */
#include <errno.h>
#include <string.h>

#include "cli/cli.h"

const cli_command *const cli_commands[] = {
    &cli_classify, &cli_eval, &cli_bench, &cli_import, &cli_cam, &cli_embed, &cli_similar, &cli_train_head,
    &cli_quantize, &cli_convert, &cli_serve, &cli_label, &cli_export, &cli_info, &cli_fetch, NULL,
};

static void usage(FILE *f) {
    fputs("usage: resnet COMMAND [options] [operands]\n"
          "ResNet image classification in C: ResNet-18 to -152, ResNeXt, Wide ResNet.\n"
          "\n"
          "commands:\n",
          f);
    for (int i = 0; cli_commands[i]; i++) {
        const cli_command *c = cli_commands[i];
        fprintf(f, "  %-12s %s\n", c->name, c->brief);
    }
    fputs("\n"
          "'resnet COMMAND --help' lists a command's options; 'man resnet' says it all.\n"
          "Options follow the command, before or after the operands ('--' ends them):\n"
          "--opt=value or --opt value, -k5 or -k 5. A photo named - is read from standard input.\n"
          "\n"
          "  resnet --help | --version\n"
          "  resnet --list-commands | --list-options COMMAND   (for completion scripts)\n"
          "\n"
          "exit status: 0 success, 1 failure (some input could not be used: each is named on\n"
          "stderr), 2 usage error\n",
          f);
}

static const cli_command *find_command(const char *name) {
    for (int i = 0; cli_commands[i]; i++)
        if (strcmp(cli_commands[i]->name, name) == 0) return cli_commands[i];
    return NULL;
}

/* One option a line, for completion scripts (and the man-page test). */
static int list_options(const char *name) {
    const cli_command *c = find_command(name);
    if (!c) return cli_usage_error("--list-options: unknown command '%s'", name);
    cli_list_options(c, stdout);
    return 0;
}

/* The closest command to a typo, or the list of them when none is close. */
static int unknown_command(const char *cmd) {
    const char *names[32];
    char list[400] = "";
    int n = 0;
    for (int i = 0; cli_commands[i] && n < 32; i++) {
        names[n++] = cli_commands[i]->name;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", cli_commands[i]->name);
    }
    const char *near = cli_closest(cmd, strlen(cmd), names, n);
    if (near) return cli_usage_error("unknown command '%s'; did you mean '%s'?", cmd, near);
    return cli_usage_error("unknown command '%s'; the commands are %s", cmd, list);
}

static int run_command_line(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    /* Outputs are written under temporary names: Ctrl-C, kill and the like remove them. */
    cli_catch_signals();
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        /* `resnet help COMMAND` is `resnet COMMAND --help` */
        if (argc > 2 && !find_command(argv[2])) return unknown_command(argv[2]);
        if (argc > 2) cli_command_usage(find_command(argv[2]), stdout);
        else usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        if (argc > 2) return cli_usage_error("%s takes nothing after it ('%s')", cmd, argv[2]);
        printf("resnet %s\n", RESNET_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--list-commands") == 0) {
        if (argc > 2) return cli_usage_error("--list-commands takes nothing after it ('%s')", argv[2]);
        for (int i = 0; cli_commands[i]; i++) puts(cli_commands[i]->name);
        return 0;
    }
    if (strcmp(cmd, "--list-options") == 0) {
        if (argc != 3) return cli_usage_error("--list-options needs one command");
        return list_options(argv[2]);
    }
    const cli_command *c = find_command(cmd);
    if (c) {
        cli_current_command = c->name;
        return c->run(argc - 1, argv + 1);
    }
    if (cmd[0] == '-') /* "resnet --json classify x.jpg": options go after the command */
        return cli_usage_error("'%s' is not a command; the options of a command follow it: resnet COMMAND [options]", cmd);
    return unknown_command(cmd);
}

/* Most commands answer on stdout, and when it is a file its last lines are only written by
 * the flush at exit: a full disk or a failed write there must not end as success with the
 * answer cut short (an unwritable stdout is an output that could not be written). */
int main(int argc, char **argv) {
    int rc = run_command_line(argc, argv);
    errno = 0;
    const int flushed = fflush(stdout) == 0, e = errno;
    if (!flushed || ferror(stdout)) {
        if (e) cli_error("cannot write standard output: %s", strerror(e));
        else cli_error("cannot write standard output");
        if (rc == 0) rc = 1;
    }
    return rc;
}
