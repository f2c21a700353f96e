//! Black-box and in-process tests of the API, in one test binary.

mod contract;
mod dev_server;
mod helpers;
mod pages;
mod redis;
mod writes;
