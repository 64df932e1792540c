/* Image pipeline stand-in for fedgw: plain HTTP on 8443 answering the console API shape.
 * Only for exercising image/build.sh and image/boot-test.sh before the daemon builds
 * (build with image/build.sh --standin; never shipped). Not an implementation of anything. */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Requests are tiny JSON bodies; anything bigger is cut off. */
#define STANDIN_REQ_MAX 8192

static char data_dir[512];

static int state_has(const char *name)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", data_dir, name);
	return stat(p, &st) == 0;
}

static void state_set(const char *name)
{
	char p[1024];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", data_dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void reply(int fd, const char *status, const char *extra, const char *body)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n",
		     status, extra, strlen(body));
	if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

static void handle(int fd)
{
	char req[STANDIN_REQ_MAX + 1];
	size_t len = 0;
	ssize_t r;
	const char *cookie = "Set-Cookie: fedgw_session=standin; Path=/; Secure; HttpOnly\r\n";

	while (len < STANDIN_REQ_MAX) {
		r = read(fd, req + len, STANDIN_REQ_MAX - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		req[len] = '\0';
		char *hdr_end = strstr(req, "\r\n\r\n");
		if (hdr_end) {
			const char *cl = strcasestr(req, "Content-Length:");
			size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
			if ((size_t)(req + len - (hdr_end + 4)) >= want)
				break;
		}
	}
	req[len] = '\0';
	if (!strncmp(req, "GET /api/v1/setup ", 18)) {
		reply(fd, "200 OK", "", state_has("admin") ? "{\"needed\":false}" : "{\"needed\":true}");
	} else if (!strncmp(req, "POST /api/v1/setup ", 19)) {
		if (state_has("admin")) {
			reply(fd, "409 Conflict", "", "{\"error\":\"done\"}");
			return;
		}
		state_set("admin");
		reply(fd, "200 OK", cookie, "{\"admin\":\"admin\",\"csrf\":\"standin\"}");
	} else if (!strncmp(req, "POST /api/v1/login ", 19)) {
		reply(fd, "200 OK", cookie, "{\"admin\":\"admin\",\"csrf\":\"standin\"}");
	} else if (!strncmp(req, "POST /api/v1/certificates/selfsigned ", 37)) {
		state_set("cert");
		reply(fd, "201 Created", "", "{\"id\":\"c1\"}");
	} else if (!strncmp(req, "GET /api/v1/certificates ", 25)) {
		reply(fd, "200 OK", "",
		      state_has("cert") ? "{\"certificates\":[{\"id\":\"c1\",\"name\":\"boot-test\"}]}"
					: "{\"certificates\":[]}");
	} else if (!strncmp(req, "GET /api/v1/admins ", 19)) {
		reply(fd, "200 OK", "",
		      state_has("admin") ? "{\"admins\":[{\"name\":\"admin\"}]}" : "{\"admins\":[]}");
	} else {
		reply(fd, "404 Not Found", "", "{\"error\":\"not found\"}");
	}
}

static const char *arg_value(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return def;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8443)};
	int one = 1, s;

	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "version")) {
		puts("fedgw image stand-in");
		return 0;
	}
	snprintf(data_dir, sizeof(data_dir), "%s", arg_value(argc, argv, "--data-dir", "."));
	if (!strcmp(argv[1], "init")) {
		state_set("initialised");
		return 0;
	}
	if (strcmp(argv[1], "serve"))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 16)) {
		perror("bind");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		handle(c);
		close(c);
	}
}
