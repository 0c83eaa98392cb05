/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: the few Unicode facts Docker's Go code relies on: UTF-8
 * decoding with U+FFFD for bad bytes, unicode.IsSpace, IsLetter and IsDigit
 * (the last two approximated by ranges of the scripts in use), and JSON
 * string output that stays valid UTF-8.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"

void cf_utf8_put(struct nib_buf *b, uint32_t r)
{
	char t[4];
	size_t n;

	if (r >= 0xD800 && r <= 0xDFFF)
		r = 0xFFFD;
	if (r < 0x80) {
		t[0] = (char)r;
		n = 1;
	} else if (r < 0x800) {
		t[0] = (char)(0xC0 | (r >> 6));
		t[1] = (char)(0x80 | (r & 0x3F));
		n = 2;
	} else if (r < 0x10000) {
		t[0] = (char)(0xE0 | (r >> 12));
		t[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		t[2] = (char)(0x80 | (r & 0x3F));
		n = 3;
	} else if (r <= 0x10FFFF) {
		t[0] = (char)(0xF0 | (r >> 18));
		t[1] = (char)(0x80 | ((r >> 12) & 0x3F));
		t[2] = (char)(0x80 | ((r >> 6) & 0x3F));
		t[3] = (char)(0x80 | (r & 0x3F));
		n = 4;
	} else {
		cf_utf8_put(b, 0xFFFD);
		return;
	}
	nib_buf_append(b, t, n);
}

bool cf_is_space(uint32_t r)
{
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000:
		return true;
	}
	return r >= 0x2000 && r <= 0x200A;
}

bool cf_is_space_byte(unsigned char c)
{
	return cf_is_space(c);
}

bool cf_is_digit(uint32_t r)
{
	static const uint32_t zeros[] = {0x660, 0x6F0,	0x7C0,	0x966,	0x9E6, 0xA66, 0xAE6,
					 0xB66, 0xBE6,	0xC66,	0xCE6,	0xD66, 0xE50, 0xED0,
					 0xF20, 0x1040, 0x17E0, 0x1810, 0xFF10};
	if (r >= '0' && r <= '9')
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(zeros); i++)
		if (r >= zeros[i] && r <= zeros[i] + 9)
			return true;
	return false;
}

bool cf_is_letter(uint32_t r)
{
	/* Ranges of letters in the scripts people write names in; symbols,
	 * punctuation and emoji outside them are not letters. */
	static const uint32_t ranges[][2] = {
	    {'A', 'Z'},	      {'a', 'z'},	  {0xAA, 0xAA},	    {0xB5, 0xB5},
	    {0xBA, 0xBA},     {0xC0, 0xD6},	  {0xD8, 0xF6},	    {0xF8, 0x2C1},
	    {0x2C6, 0x2D1},   {0x370, 0x374},	  {0x376, 0x3FF},   {0x400, 0x481},
	    {0x48A, 0x52F},   {0x531, 0x556},	  {0x561, 0x587},   {0x5D0, 0x5EA},
	    {0x620, 0x64A},   {0x671, 0x6D3},	  {0x904, 0x939},   {0xE01, 0xE30},
	    {0x10A0, 0x10FF}, {0x1100, 0x11FF},	  {0x1E00, 0x1FFF}, {0x3041, 0x3096},
	    {0x30A1, 0x30FA}, {0x3131, 0x318E},	  {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},
	    {0xAC00, 0xD7A3}, {0xF900, 0xFAFF},	  {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A},
	    {0xFF66, 0xFFDC}, {0x20000, 0x2FA1F},
	};
	if (r == 0xD7 || r == 0xF7)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
		if (r >= ranges[i][0] && r <= ranges[i][1])
			return true;
	return false;
}
