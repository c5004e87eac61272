//! What the QEMU programs share: leaving with an exit code and reading host files over Arm
//! semihosting (QEMU `-semihosting-config enable=on,target=native`).

use cortex_m_semihosting::nr;

/// Semihosting SYS_EXIT_EXTENDED with ADP_Stopped_ApplicationExit: QEMU exits with `code`.
pub fn exit(code: u32) -> ! {
    const SYS_EXIT_EXTENDED: usize = 0x20;
    const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
    loop {
        // SAFETY: a semihosting call with a two-word parameter block.
        unsafe {
            cortex_m_semihosting::syscall(
                SYS_EXIT_EXTENDED,
                &[ADP_STOPPED_APPLICATION_EXIT, code as usize],
            );
        }
    }
}

/// Reads the host file `path` (NUL-terminated) into `buf`; returns the bytes read. Refuses a
/// file larger than `buf`.
pub fn read_file<'b>(path: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    if path.last() != Some(&0) {
        return None;
    }
    // SAFETY: semihosting OPEN with a NUL-terminated path and its length without the NUL.
    let fd = unsafe {
        cortex_m_semihosting::syscall!(OPEN, path.as_ptr(), nr::open::R_BINARY, path.len() - 1)
    };
    if fd as isize == -1 {
        return None;
    }
    // SAFETY: semihosting FLEN/READ/CLOSE on the handle just opened; READ writes at most
    // `buf.len()` bytes into `buf`.
    let read = unsafe {
        let len = cortex_m_semihosting::syscall!(FLEN, fd);
        let read = if len <= buf.len() {
            // READ returns the number of bytes *not* read.
            let missing = cortex_m_semihosting::syscall!(READ, fd, buf.as_mut_ptr(), len);
            (missing == 0).then_some(len)
        } else {
            None
        };
        cortex_m_semihosting::syscall!(CLOSE, fd);
        read
    };
    buf.get(..read?)
}

/// CMSDK APB timer 0 of the MPS2 FPGA images (AN385/AN386), clocked at 25 MHz.
pub mod timer {
    const BASE: usize = 0x4000_0000;
    const CTRL: usize = BASE;
    const VALUE: usize = BASE + 0x04;
    const RELOAD: usize = BASE + 0x08;

    /// Starts the timer counting down from `u32::MAX`.
    pub fn start() {
        // SAFETY: the timer's registers on the mps2-an385/an386 memory map; word accesses.
        unsafe {
            core::ptr::write_volatile(RELOAD as *mut u32, u32::MAX);
            core::ptr::write_volatile(VALUE as *mut u32, u32::MAX);
            core::ptr::write_volatile(CTRL as *mut u32, 1);
        }
    }

    /// Ticks elapsed since `start` (at most 171 s of virtual time before it wraps).
    pub fn now() -> u32 {
        // SAFETY: as in `start`.
        u32::MAX - unsafe { core::ptr::read_volatile(VALUE as *const u32) }
    }

    /// Ticks from `earlier` to `later`.
    pub fn between(earlier: u32, later: u32) -> u32 {
        later.wrapping_sub(earlier)
    }
}
