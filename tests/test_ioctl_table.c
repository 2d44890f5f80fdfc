/* SPDX-License-Identifier: MIT */
/*
 * The ioctl table against <linux/videodev2.h>: every entry at its own _IOC_NR
 * with the macro's size and direction, and every VIDIOC code of the 6.1 UAPI
 * present.  The code list is kept apart from the table on purpose, so a code
 * dropped from the table is caught.  (Including vmedia_wire.h runs its size
 * asserts at build time.)
 */
#include <criterion/criterion.h>
#include <string.h>

#include "vmedia_ioctl_table.h"
#include "vmedia_wire.h"

#define C(req) { #req, req }

static const struct {
	const char *name;
	uint32_t request;
} codes[] = {
	C(VIDIOC_QUERYCAP), C(VIDIOC_ENUM_FMT), C(VIDIOC_G_FMT),
	C(VIDIOC_S_FMT), C(VIDIOC_REQBUFS), C(VIDIOC_QUERYBUF),
	C(VIDIOC_G_FBUF), C(VIDIOC_S_FBUF), C(VIDIOC_OVERLAY),
	C(VIDIOC_QBUF), C(VIDIOC_EXPBUF), C(VIDIOC_DQBUF),
	C(VIDIOC_STREAMON), C(VIDIOC_STREAMOFF), C(VIDIOC_G_PARM),
	C(VIDIOC_S_PARM), C(VIDIOC_G_STD), C(VIDIOC_S_STD),
	C(VIDIOC_ENUMSTD), C(VIDIOC_ENUMINPUT), C(VIDIOC_G_CTRL),
	C(VIDIOC_S_CTRL), C(VIDIOC_G_TUNER), C(VIDIOC_S_TUNER),
	C(VIDIOC_G_AUDIO), C(VIDIOC_S_AUDIO), C(VIDIOC_QUERYCTRL),
	C(VIDIOC_QUERYMENU), C(VIDIOC_G_INPUT), C(VIDIOC_S_INPUT),
	C(VIDIOC_G_EDID), C(VIDIOC_S_EDID), C(VIDIOC_G_OUTPUT),
	C(VIDIOC_S_OUTPUT), C(VIDIOC_ENUMOUTPUT), C(VIDIOC_G_AUDOUT),
	C(VIDIOC_S_AUDOUT), C(VIDIOC_G_MODULATOR), C(VIDIOC_S_MODULATOR),
	C(VIDIOC_G_FREQUENCY), C(VIDIOC_S_FREQUENCY), C(VIDIOC_CROPCAP),
	C(VIDIOC_G_CROP), C(VIDIOC_S_CROP), C(VIDIOC_G_JPEGCOMP),
	C(VIDIOC_S_JPEGCOMP), C(VIDIOC_QUERYSTD), C(VIDIOC_TRY_FMT),
	C(VIDIOC_ENUMAUDIO), C(VIDIOC_ENUMAUDOUT), C(VIDIOC_G_PRIORITY),
	C(VIDIOC_S_PRIORITY), C(VIDIOC_G_SLICED_VBI_CAP),
	C(VIDIOC_LOG_STATUS), C(VIDIOC_G_EXT_CTRLS), C(VIDIOC_S_EXT_CTRLS),
	C(VIDIOC_TRY_EXT_CTRLS), C(VIDIOC_ENUM_FRAMESIZES),
	C(VIDIOC_ENUM_FRAMEINTERVALS), C(VIDIOC_G_ENC_INDEX),
	C(VIDIOC_ENCODER_CMD), C(VIDIOC_TRY_ENCODER_CMD),
	C(VIDIOC_DBG_S_REGISTER), C(VIDIOC_DBG_G_REGISTER),
	C(VIDIOC_S_HW_FREQ_SEEK), C(VIDIOC_S_DV_TIMINGS),
	C(VIDIOC_G_DV_TIMINGS), C(VIDIOC_DQEVENT), C(VIDIOC_SUBSCRIBE_EVENT),
	C(VIDIOC_UNSUBSCRIBE_EVENT), C(VIDIOC_CREATE_BUFS),
	C(VIDIOC_PREPARE_BUF), C(VIDIOC_G_SELECTION), C(VIDIOC_S_SELECTION),
	C(VIDIOC_DECODER_CMD), C(VIDIOC_TRY_DECODER_CMD),
	C(VIDIOC_ENUM_DV_TIMINGS), C(VIDIOC_QUERY_DV_TIMINGS),
	C(VIDIOC_DV_TIMINGS_CAP), C(VIDIOC_ENUM_FREQ_BANDS),
	C(VIDIOC_DBG_G_CHIP_INFO), C(VIDIOC_QUERY_EXT_CTRL),
};

#define NCODES (sizeof(codes) / sizeof(codes[0]))

Test(ioctl_table, entries_match_their_macros)
{
	unsigned entries = 0;
	for (unsigned i = 0; i < VMEDIA_IOCTL_NR_LIMIT; i++) {
		const struct vmedia_ioctl_desc *d = vmedia_ioctl_lookup(i);
		if (!d)
			continue;
		entries++;
		cr_expect_eq(d->nr, i, "%s", d->name);
		cr_expect_eq(_IOC_NR(d->request), i, "%s", d->name);
		cr_expect_eq(_IOC_TYPE(d->request), 'V', "%s", d->name);
		cr_expect_eq(d->size, _IOC_SIZE(d->request), "%s", d->name);
		unsigned dir = 0;
		if (_IOC_DIR(d->request) & _IOC_READ)
			dir |= VMEDIA_IOCTL_DIR_R;
		if (_IOC_DIR(d->request) & _IOC_WRITE)
			dir |= VMEDIA_IOCTL_DIR_W;
		cr_expect_eq(d->dir, dir, "%s", d->name);
	}
	cr_expect_eq(entries, NCODES);
}

Test(ioctl_table, every_uapi_code_resolves)
{
	for (unsigned i = 0; i < NCODES; i++) {
		const struct vmedia_ioctl_desc *d = vmedia_ioctl_lookup(_IOC_NR(codes[i].request));
		cr_assert_not_null(d, "%s", codes[i].name);
		cr_expect_eq(d->request, codes[i].request, "%s", codes[i].name);
		cr_expect_str_eq(d->name, codes[i].name);
	}
}

Test(ioctl_table, out_of_range_codes_do_not_resolve)
{
	cr_expect_null(vmedia_ioctl_lookup(VMEDIA_IOCTL_NR_LIMIT));
	cr_expect_null(vmedia_ioctl_lookup(UINT32_MAX));
	cr_expect_null(vmedia_ioctl_lookup(104)); /* VIDIOC_REMOVE_BUFS, after 6.1 */
}

Test(ioctl_table, always_enotty_set)
{
	const unsigned long never[] = { VIDIOC_QUERYCAP, VIDIOC_DQBUF, VIDIOC_DQEVENT,
					VIDIOC_G_JPEGCOMP, VIDIOC_S_JPEGCOMP, VIDIOC_LOG_STATUS };
	for (unsigned i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		cr_expect_eq(vmedia_ioctl_lookup(_IOC_NR(never[i]))->kind,
			     VMEDIA_IOCTL_KIND_ALWAYS_ENOTTY);
	cr_expect_eq(vmedia_ioctl_lookup(_IOC_NR(VIDIOC_QBUF))->kind, VMEDIA_IOCTL_KIND_BUFFER);
	cr_expect_eq(vmedia_ioctl_lookup(_IOC_NR(VIDIOC_S_EXT_CTRLS))->kind,
		     VMEDIA_IOCTL_KIND_EXT_CTRLS);
	cr_expect_eq(vmedia_ioctl_lookup(_IOC_NR(VIDIOC_EXPBUF))->kind, VMEDIA_IOCTL_KIND_EXPBUF);
}
