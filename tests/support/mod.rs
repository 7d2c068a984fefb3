#![allow(dead_code)] // each test binary uses part of the support code

pub mod replay;
