from dataspoc_ml.cli import main

main()
