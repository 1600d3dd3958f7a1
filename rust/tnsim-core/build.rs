//! Sets `cfg(x86_kernels)` where the x86-specific code (the AVX2 and AVX-512 kernels, the x86
//! prefetches) is compiled: on x86-64, unless `TNSIM_PORTABLE_BUILD` is set. That variable
//! builds the engine as it is built for every other CPU (aarch64 among them: Apple silicon,
//! Graviton), so that a machine without a cross-compiler can still check and test that build
//! (`.ci/test` does).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(x86_kernels)");
    println!("cargo::rerun-if-env-changed=TNSIM_PORTABLE_BUILD");
    let x86_64 = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "x86_64");
    if x86_64 && std::env::var_os("TNSIM_PORTABLE_BUILD").is_none() {
        println!("cargo::rustc-cfg=x86_kernels");
    }
}
