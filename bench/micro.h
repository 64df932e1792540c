/* micro: what the relay path's micro benchmarks (micro_sip, micro_xml) share: the bench's
 * MESSAGE as fedgw receives it from sipp (docs/bench-sip.md) and a nanosecond clock. */
#ifndef FEDGW_BENCH_MICRO_H
#define FEDGW_BENCH_MICRO_H

#include <time.h>

static const char bench_msg[] = "MESSAGE sip:sink@prosody.test SIP/2.0\r\n"
                                "Via: SIP/2.0/TCP 127.0.0.5:5060;branch=z9hG4bK-1-0-7\r\n"
                                "Max-Forwards: 70\r\n"
                                "From: <sip:load@sip.test>;tag=1-7\r\n"
                                "To: <sip:sink@prosody.test>\r\n"
                                "Call-ID: 7-1234@127.0.0.5\r\n"
                                "CSeq: 1 MESSAGE\r\n"
                                "Content-Type: text/plain\r\n"
                                "Content-Length: 31\r\n"
                                "\r\n"
                                "r=f3000 n=7 t=1763762400.123456";

static inline double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#endif
