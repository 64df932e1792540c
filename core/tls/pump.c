/* tls: moving a sans-IO connection's records to a transport and its plaintext to the protocol
 * (RFC 5246 §6.2 records). */
#include "tls/tls.h"

bool tls_conn_pump(struct tls_conn *conn, tls_write_fn write, void *ctx)
{
	for (;;) {
		const uint8_t *buf;
		size_t len;
		tls_conn_take_output(conn, &buf, &len);
		if (len == 0)
			return true;
		/* conn may be freed by write when the connection dies: look no further */
		if (!write(ctx, buf, len))
			return false;
		tls_conn_output_done(conn, len);
	}
}

enum fg_err tls_conn_write_all(struct tls_conn *conn, const uint8_t *buf, size_t len,
                               tls_write_fn write, void *ctx)
{
	while (len > 0) {
		size_t used = 0;
		enum fg_err err = tls_conn_write_app(conn, buf, len, &used);
		if (err != FG_OK)
			return err;
		if (!tls_conn_pump(conn, write, ctx))
			return FG_OK;
		/* a full record buffer drains by pumping; neither moving means the engine is
		 * stuck (closing or failed) and looping would spin */
		if (used == 0 && !tls_conn_want_output(conn))
			break;
		buf += used;
		len -= used;
	}
	return FG_OK;
}

bool tls_conn_read_all(struct tls_conn *conn, uint8_t *buf, size_t cap, tls_plain_fn on_plain,
                       void *ctx)
{
	bool got_any = false;
	while (tls_conn_has_app(conn)) {
		size_t got = 0;
		if (tls_conn_read_app(conn, buf, cap, &got) != FG_OK || got == 0)
			break;
		got_any = true;
		/* conn may be freed by on_plain when the connection dies: look no further */
		if (!on_plain(ctx, buf, got))
			break;
	}
	return got_any;
}
