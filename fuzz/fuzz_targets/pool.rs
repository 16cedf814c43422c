#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sysadmd_fuzz::check_parser(data, iocage_cli::parse_pool));
