//! Bob Jenkins' lookup3 hash as the kernel's `jhash2` (include/linux/jhash.h),
//! used by `find_best_ips_proto` to pick an address from a NAT range.

const JHASH_INITVAL: u32 = 0xdead_beef;

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c) ^ c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c) ^ c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(14));
    *a = (*a ^ *c).wrapping_sub(c.rotate_left(11));
    *b = (*b ^ *a).wrapping_sub(a.rotate_left(25));
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(16));
    *a = (*a ^ *c).wrapping_sub(c.rotate_left(4));
    *b = (*b ^ *a).wrapping_sub(a.rotate_left(14));
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(24));
}

/// `jhash2(k, length, initval)`.
pub fn jhash2(k: &[u32], initval: u32) -> u32 {
    let len = u32::try_from(k.len()).unwrap_or(u32::MAX);
    let start = JHASH_INITVAL.wrapping_add(len << 2).wrapping_add(initval);
    let (mut a, mut b, mut c) = (start, start, start);
    let mut rest = k;
    while rest.len() > 3 {
        a = a.wrapping_add(rest[0]);
        b = b.wrapping_add(rest[1]);
        c = c.wrapping_add(rest[2]);
        mix(&mut a, &mut b, &mut c);
        rest = &rest[3..];
    }
    if rest.is_empty() {
        return c;
    }
    if let Some(&v) = rest.get(2) {
        c = c.wrapping_add(v);
    }
    if let Some(&v) = rest.get(1) {
        b = b.wrapping_add(v);
    }
    a = a.wrapping_add(rest[0]);
    final_mix(&mut a, &mut b, &mut c);
    c
}

/// An IPv4 address as the kernel's `(__force u32)` read of its network-order
/// bytes on a little-endian machine.
pub fn raw_u32(addr: std::net::Ipv4Addr) -> u32 {
    u32::from_le_bytes(addr.octets())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_lookup3_reference_values() {
        // hashword() from lookup3.c: an empty key returns the initial value.
        assert_eq!(jhash2(&[], 0), JHASH_INITVAL);
        // Changing the key or the seed changes the hash.
        assert_ne!(jhash2(&[1, 0, 0, 0], 0), jhash2(&[2, 0, 0, 0], 0));
        assert_ne!(jhash2(&[1, 0, 0, 0], 0), jhash2(&[1, 0, 0, 0], 1));
    }
}
