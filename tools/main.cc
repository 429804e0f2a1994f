#include <cstdio>
int main() { std::puts("baleen"); return 0; }
