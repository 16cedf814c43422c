#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let input = sysadmd_fuzz::text(data);
    let _ = iocage_cli::parse_messages(&input);
    let _ = iocage_cli::detect_flavour(&input);
    let _ = iocage_cli::clean_output(&input);
});
