/* Corridor's native fan-out: one publisher packet to many subscriber legs in one call.
 *
 * Per leg the SFU's hot path is three steps: patch the RTP header (SSRC, payload type, marker, sequence number,
 * timestamp), protect the packet with the leg's SRTP session, and send it to the leg's nominated ICE address.
 * In Python each step costs several microseconds of interpreter work around a few of real work; here the whole
 * loop runs once per packet, whatever the number of legs. streaming/sfu/native.py builds and loads this file
 * (plain C, no Python headers: it is called through cffi's ABI mode) and keeps the leg table in step with the
 * Python legs. SRTP is libsrtp's own srtp_protect, as pylibsrtp (and so aiortc) uses it: its address is passed in,
 * so both paths share one SRTP context and rollover counter per leg.
 *
 * Build: cc -O2 -shared -fPIC -o libcorridor_fanout.so fanout.c
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#define CORRIDOR_FANOUT_ABI 1
/* Room for the largest UDP payload plus libsrtp's largest trailer (SRTP_MAX_TRAILER_LEN). */
#define PACKET_MAX 65536
#define TRAILER_MAX 160

typedef int (*srtp_protect_fn)(void *ctx, void *rtp_hdr, int *len_ptr);

typedef struct {
    /* Set by Python when the leg joins the table. */
    void *srtp;             /* the subscriber's srtp_t (outbound session of its DTLS transport) */
    int fd;                 /* a dup of the nominated pair's UDP socket */
    uint8_t addr[28];       /* struct sockaddr_in or sockaddr_in6 of the subscriber's candidate */
    uint32_t addrlen;
    uint32_t ssrc;
    uint32_t payload_type;
    uint32_t seq_offset;    /* out sequence number = in + offset (mod 2^16) */
    uint32_t ts_offset;     /* out timestamp = in + offset (mod 2^32) */
    uint32_t guard_seq;     /* while guard_left > 0, packets older than this are late retransmissions: dropped */
    uint32_t guard_left;
    /* Kept here, read back by Python. */
    uint64_t packets;       /* packets sent */
    uint64_t payload_bytes; /* RTP payload bytes sent (what RTCP sender reports count) */
    uint64_t wire_bytes;    /* bytes on the wire, SRTP included (what the DTLS transport counts) */
    uint64_t dropped;       /* socket buffer full: dropped, as the network would, NACK repairs it */
    uint64_t failed;        /* protect or send errors */
    int32_t last_errno;
    uint32_t has_last;
    uint32_t last_seq;      /* newest sequence number sent, and its timestamp and NTP send time */
    uint32_t last_ts;
    uint64_t last_ntp;
} corridor_leg;

int corridor_fanout_abi(void) { return CORRIDOR_FANOUT_ABI; }

int corridor_leg_size(void) { return (int)sizeof(corridor_leg); }

/* Send `wire` (an RTP packet serialized once for every leg of the same header layout) on each of `count` legs.
 * Returns the number of legs that sent it, or -1 if `length` is not that of an RTP packet (nothing is sent). */
int corridor_fanout(srtp_protect_fn protect, const uint8_t *wire, int length, int marker, uint32_t sequence_number,
                    uint32_t timestamp, int payload_size, uint64_t ntp_time, corridor_leg *legs, int count) {
    static _Thread_local uint8_t buffer[PACKET_MAX + TRAILER_MAX]; /* per thread: each runs its own event loop */
    int sent = 0;
    if (length < 12 || length > PACKET_MAX) return -1;
    for (int i = 0; i < count; i++) {
        corridor_leg *leg = &legs[i];
        if (leg->guard_left) {
            if (((leg->guard_seq - sequence_number) & 0xFFFF) - 1 < 0x7FFF) continue; /* older than the join */
            leg->guard_left--;
        }
        uint32_t seq = (sequence_number + leg->seq_offset) & 0xFFFF;
        uint32_t ts = timestamp + leg->ts_offset;
        memcpy(buffer, wire, (size_t)length);
        buffer[1] = (uint8_t)((marker ? 0x80 : 0) | (leg->payload_type & 0x7F));
        buffer[2] = (uint8_t)(seq >> 8);
        buffer[3] = (uint8_t)seq;
        buffer[4] = (uint8_t)(ts >> 24);
        buffer[5] = (uint8_t)(ts >> 16);
        buffer[6] = (uint8_t)(ts >> 8);
        buffer[7] = (uint8_t)ts;
        buffer[8] = (uint8_t)(leg->ssrc >> 24);
        buffer[9] = (uint8_t)(leg->ssrc >> 16);
        buffer[10] = (uint8_t)(leg->ssrc >> 8);
        buffer[11] = (uint8_t)leg->ssrc;
        int protected_length = length;
        if (protect(leg->srtp, buffer, &protected_length) != 0) {
            leg->failed++;
            leg->last_errno = 0;
            continue;
        }
        ssize_t result = sendto(leg->fd, buffer, (size_t)protected_length, MSG_DONTWAIT,
                                (const struct sockaddr *)leg->addr, (socklen_t)leg->addrlen);
        if (result < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                leg->dropped++;
            } else {
                leg->failed++;
                leg->last_errno = errno;
            }
            continue;
        }
        leg->packets++;
        leg->payload_bytes += (uint64_t)payload_size;
        leg->wire_bytes += (uint64_t)protected_length;
        if (!leg->has_last || ((seq - leg->last_seq) & 0xFFFF) - 1 < 0x7FFF) {
            leg->has_last = 1;
            leg->last_seq = seq;
            leg->last_ts = ts;
            leg->last_ntp = ntp_time;
        }
        sent++;
    }
    return sent;
}
