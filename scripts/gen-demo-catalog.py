#!/usr/bin/env python3
"""Generate a deterministic demo product catalogue for an online shop.

Writes one JSON object per line (JSONL, UTF-8, sorted by id) with the fields
id, name, description, category, price_minor, currency, stock.  A fixed seed
drives all randomness, so re-running the script yields byte-identical output.

Regenerate with:

    python3 scripts/gen-demo-catalog.py            # -> demo/catalog.jsonl
    python3 scripts/gen-demo-catalog.py --count 500 --out /tmp/small.jsonl

Standard library only.
"""

import argparse
import json
import math
import os
import random
import sys

SEED = 20261122

# Sentences and words that recur across categories so that full-text search
# has interesting, overlapping hits.
CARE = {
    "hand": "Hand wash only.",
    "dish": "Dishwasher safe.",
    "machine": "Machine washable at 30 degrees.",
    "wipe": "Wipe clean with a damp cloth.",
    "dry": "Store in a cool, dry place.",
    "rinse": "Rinse with fresh water after use.",
    "sun": "Avoid prolonged direct sunlight.",
    "oil": "Oil occasionally to keep the wood from drying out.",
    "charge": "Charge fully before first use.",
}
CLOSERS = [
    "Part of our sustainable essentials range.",
    "Includes a 30-day return guarantee.",
    "Designed in Europe.",
    "Ships in recyclable, plastic-free packaging.",
    "A bestseller in our shop.",
    "Makes a thoughtful gift.",
]

# Per-category data:
#   weight     relative share of products
#   brands     brand-like names (some shared between categories)
#   materials  material / technology qualifiers used in names
#   perks      adjectives drawn from a shared vocabulary
#   features   category-specific selling points (noun phrases)
#   care       keys into CARE
#   nouns      (product noun, [variants, cheapest first], use phrase, min EUR, max EUR)
CATEGORIES = {
    "kitchen": {
        "weight": 11,
        "brands": ["Nordvik", "Cucina Viva", "Ferro & Sale", "Kokkeri", "Maison Brun",
                   "Ostrava", "Tallow & Thyme", "Brindle", "Kettlewood"],
        "materials": ["Cast Iron", "Stainless Steel", "Enamelled", "Copper", "Bamboo",
                      "Ceramic", "Carbon Steel", "Borosilicate Glass", "Olive Wood", "Non-Stick"],
        "perks": ["durable", "lightweight", "BPA-free", "eco-friendly", "handmade", "compact",
                  "ergonomic"],
        "features": ["a food-safe finish", "a lifetime guarantee", "a space-saving design",
                     "plastic-free materials", "a gift-ready box", "easy-clean surfaces"],
        "care": ["hand", "wipe", "dish", "dry"],
        "nouns": [
            ("Skillet", ["24 cm", "26 cm", "28 cm", "30 cm"], "searing steaks and frying vegetables", 25, 120),
            ("Dutch Oven", ["3.5 L", "4.8 L", "6 L"], "slow-cooked stews, braises and bread baking", 60, 320),
            ("Saucepan", ["16 cm", "18 cm", "20 cm"], "sauces, soups and porridge", 20, 110),
            ("Chef's Knife", ["18 cm", "20 cm", "23 cm"], "slicing, dicing and mincing", 30, 250),
            ("Cutting Board", ["Small", "Medium", "Large"], "everyday food prep", 12, 80),
            ("French Press", ["350 ml", "600 ml", "1 L"], "rich, full-bodied coffee", 18, 70),
            ("Teapot", ["0.8 L", "1.2 L"], "loose-leaf tea brewing", 20, 90),
            ("Mixing Bowl Set", ["3-Piece", "5-Piece"], "baking and salad prep", 15, 75),
            ("Spice Grinder", ["Manual", "Electric"], "freshly ground pepper and spices", 12, 60),
            ("Wok", ["30 cm", "32 cm", "36 cm"], "high-heat stir-frying", 25, 140),
            ("Baking Tray", ["Quarter Sheet", "Half Sheet"], "cookies, roasted vegetables and pastries", 8, 40),
            ("Salad Spinner", ["4 L", "5 L"], "washing and drying leafy greens", 15, 45),
            ("Espresso Cup Set", ["2 Cups", "4 Cups", "6 Cups"], "serving espresso and ristretto", 12, 60),
            ("Food Storage Containers", ["Set of 3", "Set of 5", "Set of 8"], "meal prep and leftovers", 10, 55),
            ("Wooden Spoon Set", ["3-Piece", "5-Piece"], "stirring and serving", 5, 30),
        ],
    },
    "garden": {
        "weight": 8,
        "brands": ["Greenhollow", "Tuinman", "Mossbank", "Verdant Co.", "Jardin Nord",
                   "Fernley", "Rootwell"],
        "materials": ["Galvanised Steel", "Terracotta", "Recycled Plastic", "Teak", "Ash Wood",
                      "Aluminium", "Powder-Coated", "Stainless Steel"],
        "perks": ["durable", "weatherproof", "eco-friendly", "lightweight", "recycled",
                  "ergonomic", "foldable", "solar-powered"],
        "features": ["weather-resistant materials", "a 5-year guarantee", "an ergonomic design",
                     "low-maintenance materials", "a compact footprint"],
        "care": ["rinse", "dry", "wipe"],
        "nouns": [
            ("Watering Can", ["5 L", "7 L", "10 L"], "watering seedlings and potted plants", 8, 45),
            ("Planter", ["30 cm", "40 cm", "60 cm"], "herbs, flowers and patio shrubs", 10, 120),
            ("Pruning Shears", ["Bypass", "Anvil"], "cutting stems and small branches", 12, 70),
            ("Garden Hose", ["15 m", "25 m", "30 m"], "watering lawns and washing the car", 20, 90),
            ("Raised Bed", ["80 x 80 cm", "120 x 60 cm", "200 x 100 cm"], "growing vegetables and herbs", 45, 350),
            ("Compost Bin", ["220 L", "330 L"], "turning kitchen scraps into rich soil", 35, 150),
            ("Trowel", ["Standard", "Narrow"], "planting bulbs and seedlings", 5, 30),
            ("Bird Feeder", ["Hanging", "Pole-Mounted"], "attracting songbirds to the garden", 9, 60),
            ("Kneeling Pad", ["Standard", "XL"], "comfortable weeding and planting", 6, 25),
            ("Seed Starter Kit", ["12 Cells", "24 Cells", "40 Cells"], "germinating seeds indoors", 8, 40),
            ("Rake", ["Leaf", "Bow"], "clearing leaves and levelling soil", 12, 55),
            ("Garden Light", ["Set of 4", "Set of 8"], "lighting paths and borders at night", 15, 80),
            ("Garden Bench", ["2-Seater", "3-Seater"], "resting in the shade", 120, 600),
        ],
    },
    "outdoor": {
        "weight": 8,
        "brands": ["Trailhaven", "Fjellstad", "Summit & Pine", "Nomadic Owl", "Ridgeline",
                   "Kestrel Works", "Alpenglow"],
        "materials": ["Ripstop Nylon", "Titanium", "Aluminium", "Canvas", "Recycled Polyester",
                      "Merino", "Down-Filled", "Stainless Steel"],
        "perks": ["waterproof", "lightweight", "packable", "durable", "compact", "recycled",
                  "windproof", "rechargeable"],
        "features": ["a lifetime repair service", "bluesign-approved materials", "a packable design",
                     "reflective details", "a carry pouch"],
        "care": ["rinse", "dry", "sun"],
        "nouns": [
            ("Tent", ["1-Person", "2-Person", "3-Person", "4-Person"], "backpacking and family camping", 80, 750),
            ("Sleeping Bag", ["Summer", "3-Season", "Winter"], "cold nights under the stars", 45, 450),
            ("Backpack", ["28 L", "40 L", "55 L", "65 L"], "day hikes and multi-day treks", 40, 280),
            ("Camping Stove", ["Single Burner", "Double Burner"], "cooking at the campsite", 30, 180),
            ("Headlamp", ["300 lm", "500 lm", "800 lm"], "night hikes and camp chores", 15, 90),
            ("Water Bottle", ["500 ml", "750 ml", "1 L"], "staying hydrated on the trail", 10, 45),
            ("Hammock", ["Single", "Double"], "relaxing between trees", 25, 110),
            ("Trekking Poles", ["Pair", "Pair XL"], "steep ascents and descents", 30, 160),
            ("Camping Chair", ["Compact", "High Back"], "sitting around the campfire", 25, 140),
            ("Dry Bag", ["5 L", "10 L", "20 L"], "keeping gear dry on the water", 9, 45),
            ("Cooler Box", ["24 L", "35 L", "50 L"], "picnics and road trips", 35, 300),
            ("Rain Tarp", ["3 x 3 m", "4 x 4 m"], "shelter from wind and rain", 30, 150),
        ],
    },
    "electronics": {
        "weight": 11,
        "brands": ["Voltaic", "Lumora", "Sonder Audio", "Pixelhaus", "Arcwave", "Nimbus Labs",
                   "Quanta", "Helix"],
        "materials": ["Wireless", "Bluetooth", "Noise-Cancelling", "Smart", "Portable", "Studio",
                      "USB-C", "Aluminium"],
        "perks": ["compact", "sleek", "lightweight", "energy-efficient", "reliable", "versatile"],
        "features": ["a braided USB-C cable in the box", "firmware updates via app",
                     "an energy-saving standby mode", "a premium aluminium finish",
                     "multi-device Bluetooth pairing", "a two-year warranty",
                     "a recycled-plastic housing"],
        "care": ["wipe", "dry"],
        "nouns": [
            ("Headphones", ["Black", "White", "Midnight Blue"], "music, podcasts and calls", 40, 450),
            ("Earbuds", ["Black", "White", "Sand"], "workouts and commuting", 25, 300),
            ("Speaker", ["Mini", "Standard", "Max"], "parties and outdoor listening", 25, 400),
            ("Power Bank", ["10000 mAh", "20000 mAh", "26800 mAh"], "charging phones and tablets on the go", 18, 90),
            ("Charger", ["30 W", "65 W", "100 W"], "fast charging laptops and phones", 15, 80),
            ("Keyboard", ["Compact", "Tenkeyless", "Full Size"], "typing and gaming", 30, 220),
            ("Mouse", ["Standard", "Vertical"], "precise everyday pointing", 15, 120),
            ("Webcam", ["1080p", "4K"], "video calls and streaming", 35, 200),
            ("Monitor", ["24 inch", "27 inch", "32 inch"], "work, gaming and photo editing", 140, 1400),
            ("Smartwatch", ["40 mm", "44 mm"], "fitness tracking and notifications", 90, 650),
            ("E-Reader", ["6 inch", "7 inch"], "reading books without eye strain", 90, 300),
            ("Desk Lamp", ["Standard", "With Charging Pad"], "focused task lighting", 25, 150),
            ("Action Camera", ["Standard", "Bundle"], "filming adventures and sports", 120, 550),
            ("Soundbar", ["2.0", "2.1", "5.1"], "cinematic TV sound", 120, 1100),
            ("Laptop", ["13 inch", "14 inch", "16 inch"], "work, study and travel", 600, 2500),
        ],
    },
    "books": {
        "weight": 10,
        "brands": ["Paperlane Press", "Inkwell Editions", "Harbour Books", "Quire & Co.",
                   "Lantern House", "Fieldnote Publishing"],
        "materials": ["The Complete", "A Practical", "The Little", "The Illustrated",
                      "The Essential", "Everyday", "The Modern", "The Slow"],
        "perks": ["inspiring", "practical", "beautifully illustrated", "accessible", "eco-friendly"],
        "features": ["full-colour photographs", "step-by-step instructions", "an illustrated glossary",
                     "a foreword by a renowned expert", "printing on recycled paper",
                     "a lay-flat binding", "an updated second edition"],
        "care": [],
        "nouns": [
            ("Guide to Sourdough Baking", ["Paperback", "Hardcover"], "bakers of all levels", 15, 35),
            ("Book of Houseplants", ["Paperback", "Hardcover"], "indoor gardeners", 14, 32),
            ("Handbook of Trail Running", ["E-Book", "Paperback"], "runners and hikers", 8, 25),
            ("Atlas of European Birds", ["Paperback", "Hardcover"], "birdwatchers", 20, 60),
            ("Guide to Fermentation", ["Paperback", "Hardcover"], "home cooks", 14, 34),
            ("Introduction to Rust Programming", ["E-Book", "Paperback"], "software developers", 25, 60),
            ("Cookbook of Mediterranean Vegetables", ["Paperback", "Hardcover"], "vegetarian cooks", 16, 38),
            ("Companion to Woodworking", ["Paperback", "Hardcover"], "makers and hobbyists", 18, 45),
            ("Guide to Minimalist Living", ["E-Book", "Paperback"], "anyone decluttering their home", 6, 20),
            ("Field Guide to Mushrooms", ["Paperback", "Pocket Edition"], "foragers", 10, 28),
            ("Book of Knots", ["Pocket Edition", "Paperback"], "sailors and climbers", 6, 18),
            ("Guide to Watercolour Painting", ["Paperback", "Spiral-Bound"], "beginner artists", 12, 30),
            ("Handbook of Organic Gardening", ["Paperback", "Hardcover"], "allotment growers", 14, 36),
            ("Story Collection for Bedtime", ["Board Book", "Hardcover"], "families with young children", 8, 25),
            ("History of Coffee", ["Paperback", "Hardcover"], "coffee lovers", 12, 30),
            ("Guide to Cycling Across Europe", ["E-Book", "Paperback"], "touring cyclists", 10, 28),
        ],
    },
    "toys": {
        "weight": 8,
        "brands": ["Wobbly Fox", "Kiddo Kraft", "Blokko", "Tiny Meadow", "Funbrella",
                   "Little Lumen", "Pippin & Pals"],
        "materials": ["Wooden", "Plush", "Organic Cotton", "Magnetic", "Recycled Plastic",
                      "Beechwood", "Felt"],
        "perks": ["eco-friendly", "durable", "handmade", "lightweight", "washable", "recycled"],
        "features": ["EN71 safety testing", "rounded edges", "non-toxic materials",
                     "open-ended play value", "a suggested age of 3 years and up"],
        "care": ["wipe", "dry"],
        "nouns": [
            ("Building Blocks", ["50 Pieces", "100 Pieces", "250 Pieces"], "creative construction play", 12, 90),
            ("Teddy Bear", ["25 cm", "40 cm"], "cuddles and bedtime", 12, 60),
            ("Puzzle", ["24 Pieces", "100 Pieces", "500 Pieces"], "quiet problem-solving fun", 8, 35),
            ("Train Set", ["Starter", "Deluxe"], "imaginative play and fine motor skills", 30, 180),
            ("Stacking Rings", ["Rainbow", "Pastel"], "toddler sorting and stacking", 8, 30),
            ("Doll House", ["Two Storey", "Three Storey"], "role play and storytelling", 60, 250),
            ("Kite", ["Delta", "Diamond"], "windy days at the beach or park", 10, 45),
            ("Play Kitchen", ["Compact", "Corner"], "pretend cooking", 70, 240),
            ("Marble Run", ["60 Pieces", "120 Pieces"], "STEM learning and engineering play", 25, 110),
            ("Rocking Horse", ["Small", "Large"], "active indoor play", 60, 220),
            ("Board Game", ["Travel Edition", "Family Edition"], "game nights with family and friends", 12, 55),
            ("Balance Bike", ["10 inch", "12 inch"], "first steps towards cycling", 50, 180),
        ],
    },
    "apparel": {
        "weight": 10,
        "brands": ["Linnea", "Harlow & Finch", "Northbound", "Saltmarsh", "Atelier Koru",
                   "Kinfolk Knit", "Fenwick"],
        "materials": ["Organic Cotton", "Merino Wool", "Linen", "Recycled Polyester", "Cashmere",
                      "Denim", "Fleece", "Tencel"],
        "perks": ["breathable", "lightweight", "eco-friendly", "soft", "vegan", "durable",
                  "timeless"],
        "features": ["a relaxed fit", "reinforced seams", "fair-trade certification",
                     "pre-shrunk fabric", "flat-lock stitching", "a responsible supply chain",
                     "recycled packaging"],
        "care": ["machine", "dry"],
        "nouns": [
            ("T-Shirt", ["S", "M", "L", "XL"], "everyday layering", 12, 45),
            ("Hoodie", ["S", "M", "L", "XL"], "cosy weekends", 35, 110),
            ("Rain Jacket", ["S", "M", "L", "XL"], "wet commutes and city walks", 60, 320),
            ("Sweater", ["S", "M", "L", "XL"], "chilly autumn days", 40, 260),
            ("Chinos", ["30/32", "32/32", "34/32", "36/34"], "smart-casual outfits", 40, 130),
            ("Scarf", ["One Size"], "winter warmth", 15, 180),
            ("Beanie", ["One Size"], "cold mornings", 10, 60),
            ("Dress", ["XS", "S", "M", "L"], "summer evenings", 35, 220),
            ("Shirt", ["S", "M", "L", "XL"], "office and weekend wear", 30, 120),
            ("Socks", ["Pack of 3", "Pack of 5"], "all-day comfort", 8, 35),
            ("Parka", ["S", "M", "L", "XL"], "freezing winter weather", 120, 450),
            ("Leggings", ["XS", "S", "M", "L"], "yoga and lounging", 20, 80),
        ],
    },
    "footwear": {
        "weight": 7,
        "brands": ["Stride & Co.", "Kobbel", "Trailhaven", "Pavement", "Soleil Nord",
                   "Mudlark", "Ferndale"],
        "materials": ["Leather", "Suede", "Canvas", "Vegan Leather", "Knit", "Gore-Tex",
                      "Rubber", "Cork"],
        "perks": ["waterproof", "breathable", "lightweight", "vegan", "durable", "recycled",
                  "non-slip"],
        "features": ["a cushioned midsole", "a non-slip outsole", "a breathable lining",
                     "a removable insole", "a Vibram sole", "a padded heel collar",
                     "recycled laces"],
        "care": ["wipe", "dry", "sun"],
        "nouns": [
            ("Running Shoes", ["EU 38", "EU 40", "EU 42", "EU 44", "EU 46"], "road running and gym sessions", 60, 220),
            ("Hiking Boots", ["EU 38", "EU 40", "EU 42", "EU 44", "EU 46"], "rocky trails and muddy paths", 80, 300),
            ("Sneakers", ["EU 37", "EU 39", "EU 41", "EU 43", "EU 45"], "casual everyday wear", 45, 180),
            ("Chelsea Boots", ["EU 38", "EU 40", "EU 42", "EU 44"], "smart autumn outfits", 90, 320),
            ("Sandals", ["EU 37", "EU 39", "EU 41", "EU 43"], "beach holidays and hot days", 20, 120),
            ("Slippers", ["S", "M", "L"], "warm feet at home", 15, 70),
            ("Rain Boots", ["EU 36", "EU 38", "EU 40", "EU 42", "EU 44"], "puddles and festival fields", 25, 140),
            ("Loafers", ["EU 39", "EU 41", "EU 43", "EU 45"], "the office and weddings", 70, 280),
        ],
    },
    "sports": {
        "weight": 8,
        "brands": ["Kinetik", "Apex Motion", "Velocita", "Ironleaf", "Pulsewell", "Tidewater",
                   "Ridgeline"],
        "materials": ["Carbon", "Neoprene", "Natural Rubber", "Cork", "Steel", "Foam",
                      "Aluminium", "TPE"],
        "perks": ["non-slip", "lightweight", "durable", "eco-friendly", "compact", "portable",
                  "sweat-resistant"],
        "features": ["latex-free materials", "a carry strap", "an anti-slip texture",
                     "sweat-resistant materials", "a printed exercise guide", "a lifetime guarantee",
                     "a mesh storage bag"],
        "care": ["wipe", "rinse", "dry"],
        "nouns": [
            ("Yoga Mat", ["4 mm", "6 mm", "8 mm"], "yoga, pilates and stretching", 15, 110),
            ("Dumbbell Set", ["2 x 5 kg", "2 x 10 kg", "2 x 20 kg"], "strength training at home", 30, 250),
            ("Kettlebell", ["8 kg", "12 kg", "16 kg", "24 kg"], "functional workouts", 20, 120),
            ("Resistance Bands", ["Light", "Medium", "Heavy", "Set of 5"], "mobility and rehab", 6, 40),
            ("Jump Rope", ["Standard", "Weighted"], "cardio and boxing drills", 6, 40),
            ("Bike Helmet", ["S", "M", "L"], "safe cycling", 35, 250),
            ("Tennis Racket", ["Grip 2", "Grip 3"], "club and recreational tennis", 40, 260),
            ("Football", ["Size 4", "Size 5"], "training and matches", 12, 150),
            ("Foam Roller", ["30 cm", "45 cm", "90 cm"], "muscle recovery", 12, 60),
            ("Swim Goggles", ["Clear", "Tinted", "Mirrored"], "pool and open-water swimming", 8, 50),
            ("Chalk Bag", ["Standard", "Bucket"], "bouldering and sport climbing", 10, 40),
            ("Gym Bag", ["30 L", "45 L"], "carrying kit to the gym", 20, 110),
            ("Exercise Bike", ["Standard", "Pro"], "indoor cycling workouts", 250, 1500),
        ],
    },
    "office": {
        "weight": 7,
        "brands": ["Deskwright", "Papier Blanc", "Ledger & Loom", "Officina", "Inkwell Editions",
                   "Tidy Studio", "Kalmar"],
        "materials": ["Recycled Paper", "Walnut", "Oak", "Felt", "Aluminium", "Leather",
                      "Bamboo", "Steel"],
        "perks": ["ergonomic", "compact", "durable", "eco-friendly", "recycled", "refillable",
                  "minimalist"],
        "features": ["FSC-certified materials", "a soft-touch finish", "a minimalist design",
                     "a 2-year guarantee", "recycled packaging"],
        "care": ["wipe", "dry"],
        "nouns": [
            ("Notebook", ["A5 Dotted", "A5 Lined", "A4 Plain"], "journaling and meeting notes", 4, 30),
            ("Desk Organiser", ["3 Compartments", "5 Compartments"], "keeping pens and clips tidy", 10, 60),
            ("Monitor Stand", ["Standard", "With Drawer"], "raising screens to eye level", 25, 120),
            ("Fountain Pen", ["Fine", "Medium", "Broad"], "handwriting and calligraphy", 15, 250),
            ("Standing Desk", ["120 x 60 cm", "140 x 70 cm", "160 x 80 cm"], "a healthier working posture", 280, 900),
            ("Office Chair", ["Standard", "With Headrest"], "long hours at the desk", 150, 850),
            ("Desk Mat", ["60 x 30 cm", "90 x 40 cm"], "protecting desk surfaces", 12, 60),
            ("Filing Box", ["A4", "Set of 3"], "archiving documents", 6, 40),
            ("Planner", ["Undated", "2026 Weekly", "2026 Daily"], "planning weeks and goals", 10, 35),
            ("Pencil Set", ["12 Pieces", "24 Pieces"], "sketching and drafting", 3, 30),
            ("Laptop Sleeve", ["13 inch", "14 inch", "16 inch"], "protecting laptops on the go", 18, 90),
            ("Whiteboard", ["60 x 45 cm", "90 x 60 cm", "120 x 90 cm"], "brainstorming and planning", 20, 160),
            ("Paper Clips", ["Box of 100", "Box of 500"], "keeping documents together", 1, 6),
        ],
    },
    "beauty": {
        "weight": 6,
        "brands": ["Lumière Botanica", "Aesop Grove", "Rosehip & Rye", "Pure Fjord", "Kalma",
                   "Sable & Salt", "Oléa"],
        "materials": ["Organic", "Vegan", "Hydrating", "Fragrance-Free", "Vitamin C", "Argan Oil",
                      "Aloe Vera", "Shea Butter"],
        "perks": ["vegan", "hypoallergenic", "eco-friendly", "gentle", "refillable", "organic"],
        "features": ["cruelty-free certification", "dermatological testing", "plastic-free packaging",
                     "a made-in-Europe guarantee"],
        "care": ["dry", "sun"],
        "nouns": [
            ("Face Serum", ["30 ml", "50 ml"], "brightening and hydrating the skin", 15, 90),
            ("Moisturiser", ["50 ml", "100 ml"], "daily hydration", 12, 75),
            ("Shampoo", ["250 ml", "500 ml"], "gentle everyday hair care", 6, 30),
            ("Conditioner", ["250 ml", "500 ml"], "soft, detangled hair", 6, 30),
            ("Hand Cream", ["30 ml", "75 ml"], "dry, chapped hands", 5, 28),
            ("Lip Balm", ["Unscented", "Mint", "Rose"], "soothing dry lips", 2, 12),
            ("Body Wash", ["300 ml", "500 ml"], "a refreshing shower", 5, 25),
            ("Sunscreen SPF 50", ["50 ml", "100 ml"], "protection from UVA and UVB rays", 9, 35),
            ("Toothbrush", ["Soft", "Medium", "Pack of 4"], "plastic-free oral care", 2, 12),
            ("Soap Bar", ["Lavender", "Oatmeal", "Charcoal"], "gentle cleansing", 3, 14),
            ("Face Mask", ["Sheet", "Clay"], "weekly skin care rituals", 4, 40),
            ("Gift Set", ["Travel Size", "Full Size"], "pampering someone special", 25, 180),
        ],
    },
    "home-decor": {
        "weight": 8,
        "brands": ["Hygge House", "Casa Lino", "Maison Brun", "Lumen & Loom", "Oakhurst",
                   "Stilla", "Nordvik"],
        "materials": ["Linen", "Rattan", "Oak", "Marble", "Wool", "Brass", "Stoneware",
                      "Velvet", "Organic Cotton"],
        "perks": ["handmade", "eco-friendly", "hand-woven", "minimalist", "recycled", "durable"],
        "features": ["sustainably sourced materials", "fair-trade certification", "a handcrafted finish",
                     "a gift-ready box"],
        "care": ["wipe", "dry", "sun"],
        "nouns": [
            ("Cushion Cover", ["40 x 40 cm", "50 x 50 cm"], "refreshing a sofa or bed", 12, 60),
            ("Throw Blanket", ["130 x 170 cm", "150 x 200 cm"], "cosy evenings on the sofa", 35, 220),
            ("Vase", ["Small", "Medium", "Tall"], "fresh and dried flowers", 15, 140),
            ("Table Lamp", ["Small", "Large"], "warm ambient lighting", 40, 320),
            ("Wall Mirror", ["Round 50 cm", "Round 70 cm", "Arched"], "brightening hallways", 50, 400),
            ("Scented Candle", ["Fig", "Cedar", "Sea Salt", "Vanilla"], "creating a calm atmosphere", 8, 45),
            ("Rug", ["120 x 170 cm", "160 x 230 cm", "200 x 300 cm"], "living rooms and bedrooms", 70, 1200),
            ("Picture Frame", ["13 x 18 cm", "A4", "30 x 40 cm"], "displaying photos and prints", 6, 60),
            ("Storage Basket", ["Small", "Medium", "Large"], "tidying toys and blankets", 12, 70),
            ("Wall Clock", ["30 cm", "40 cm"], "kitchens and living rooms", 25, 160),
            ("Plant Pot", ["12 cm", "17 cm", "24 cm"], "houseplants and succulents", 6, 60),
            ("Curtains", ["140 x 245 cm", "140 x 260 cm"], "light control and privacy", 40, 200),
        ],
    },
}

# Materials that make sense for a particular noun (overrides the category list).
NOUN_MATERIALS = {
    # kitchen
    "Skillet": ["Cast Iron", "Carbon Steel", "Stainless Steel", "Copper", "Non-Stick"],
    "Dutch Oven": ["Cast Iron", "Enamelled"],
    "Saucepan": ["Stainless Steel", "Copper", "Enamelled", "Non-Stick"],
    "Chef's Knife": ["Stainless Steel", "Carbon Steel", "Damascus Steel", "Ceramic"],
    "Cutting Board": ["Bamboo", "Olive Wood", "Walnut", "Oak"],
    "French Press": ["Borosilicate Glass", "Stainless Steel", "Copper"],
    "Teapot": ["Ceramic", "Cast Iron", "Borosilicate Glass", "Stoneware"],
    "Mixing Bowl Set": ["Stainless Steel", "Ceramic", "Borosilicate Glass", "Bamboo"],
    "Spice Grinder": ["Olive Wood", "Stainless Steel", "Ceramic", "Acacia Wood"],
    "Wok": ["Carbon Steel", "Cast Iron", "Non-Stick"],
    "Baking Tray": ["Carbon Steel", "Non-Stick", "Aluminium"],
    "Salad Spinner": ["Stainless Steel", "BPA-Free Plastic"],
    "Espresso Cup Set": ["Ceramic", "Borosilicate Glass", "Stoneware"],
    "Food Storage Containers": ["Borosilicate Glass", "Stainless Steel", "Leakproof"],
    "Wooden Spoon Set": ["Olive Wood", "Bamboo", "Beech", "Acacia Wood"],
    # garden
    "Watering Can": ["Galvanised Steel", "Recycled Plastic", "Powder-Coated", "Copper"],
    "Planter": ["Terracotta", "Recycled Plastic", "Teak", "Galvanised Steel", "Fibreclay"],
    "Pruning Shears": ["Stainless Steel", "Carbon Steel", "Aluminium"],
    "Garden Hose": ["Expandable", "Anti-Kink", "Recycled Rubber"],
    "Raised Bed": ["Galvanised Steel", "Larch Wood", "Recycled Plastic", "Cedar"],
    "Compost Bin": ["Recycled Plastic", "Larch Wood"],
    "Trowel": ["Stainless Steel", "Ash Wood", "Carbon Steel"],
    "Bird Feeder": ["Galvanised Steel", "Teak", "Recycled Plastic", "Ceramic"],
    "Kneeling Pad": ["Recycled Foam", "Natural Rubber"],
    "Seed Starter Kit": ["Biodegradable", "Recycled Plastic", "Coconut Coir"],
    "Rake": ["Ash Wood", "Stainless Steel", "Aluminium"],
    "Garden Light": ["Solar-Powered", "Stainless Steel", "Copper"],
    "Garden Bench": ["Teak", "Acacia Wood", "Powder-Coated", "Recycled Plastic"],
    # outdoor
    "Tent": ["Ripstop Nylon", "Canvas", "Silnylon", "Recycled Polyester"],
    "Sleeping Bag": ["Down-Filled", "Synthetic", "Recycled Polyester", "Merino-Lined"],
    "Backpack": ["Ripstop Nylon", "Recycled Polyester", "Waxed Canvas", "Cordura"],
    "Camping Stove": ["Titanium", "Stainless Steel", "Aluminium"],
    "Headlamp": ["Rechargeable", "Ultralight", "Aluminium"],
    "Water Bottle": ["Stainless Steel", "Titanium", "Insulated", "BPA-Free"],
    "Hammock": ["Ripstop Nylon", "Recycled Polyester", "Cotton"],
    "Trekking Poles": ["Carbon", "Aluminium"],
    "Camping Chair": ["Aluminium", "Ripstop Nylon", "Canvas"],
    "Dry Bag": ["Ripstop Nylon", "TPU-Coated", "Recycled Polyester"],
    "Cooler Box": ["Insulated", "Rotomoulded", "Stainless Steel"],
    "Rain Tarp": ["Ripstop Nylon", "Silnylon", "Canvas"],
    # electronics
    "Headphones": ["Wireless", "Noise-Cancelling", "Bluetooth", "Studio"],
    "Earbuds": ["Wireless", "Noise-Cancelling", "Bluetooth", "Sport"],
    "Speaker": ["Wireless", "Bluetooth", "Smart", "Portable", "Waterproof"],
    "Power Bank": ["USB-C", "Wireless", "Slim", "Solar"],
    "Charger": ["USB-C", "GaN", "Wireless", "Travel"],
    "Keyboard": ["Wireless", "Mechanical", "Bluetooth", "Aluminium"],
    "Mouse": ["Wireless", "Ergonomic", "Bluetooth", "Silent"],
    "Webcam": ["USB-C", "Studio", "Wide-Angle"],
    "Monitor": ["4K", "QHD", "USB-C", "Curved"],
    "Smartwatch": ["Aluminium", "Titanium", "Smart", "Sport"],
    "E-Reader": ["Waterproof", "Glare-Free", "Colour"],
    "Desk Lamp": ["LED", "Aluminium", "Smart", "Dimmable"],
    "Action Camera": ["4K", "Waterproof", "Stabilised"],
    "Soundbar": ["Wireless", "Dolby Atmos", "Smart", "Compact"],
    "Laptop": ["Aluminium", "Ultralight", "Convertible", "Performance"],
    # toys
    "Building Blocks": ["Wooden", "Magnetic", "Recycled Plastic", "Beechwood"],
    "Stacking Rings": ["Wooden", "Beechwood", "Silicone"],
    "Marble Run": ["Wooden", "Beechwood", "Recycled Plastic"],
    "Teddy Bear": ["Plush", "Organic Cotton", "Felt"],
    "Puzzle": ["Wooden", "Recycled Cardboard"],
    "Kite": ["Ripstop Nylon", "Recycled Polyester"],
    "Board Game": ["Wooden", "Recycled Cardboard"],
    "Balance Bike": ["Wooden", "Aluminium", "Steel"],
    "Rocking Horse": ["Wooden", "Beechwood", "Plush"],
    "Play Kitchen": ["Wooden", "Beechwood"],
    "Doll House": ["Wooden", "Beechwood"],
    "Train Set": ["Wooden", "Beechwood", "Magnetic"],
    # apparel
    "T-Shirt": ["Organic Cotton", "Merino Wool", "Linen", "Tencel"],
    "Hoodie": ["Organic Cotton", "Fleece", "Recycled Polyester", "Merino Wool"],
    "Rain Jacket": ["Recycled Polyester", "Waterproof Nylon", "Waxed Cotton"],
    "Sweater": ["Merino Wool", "Cashmere", "Organic Cotton", "Alpaca"],
    "Chinos": ["Organic Cotton", "Linen", "Stretch Cotton"],
    "Scarf": ["Cashmere", "Merino Wool", "Linen", "Organic Cotton"],
    "Beanie": ["Merino Wool", "Cashmere", "Fleece", "Organic Cotton"],
    "Dress": ["Linen", "Organic Cotton", "Tencel", "Silk"],
    "Shirt": ["Organic Cotton", "Linen", "Denim", "Flannel"],
    "Socks": ["Merino Wool", "Organic Cotton", "Bamboo"],
    "Parka": ["Down-Filled", "Recycled Polyester", "Waterproof Nylon"],
    "Leggings": ["Recycled Polyester", "Organic Cotton", "Tencel"],
    # footwear
    "Running Shoes": ["Knit", "Recycled Mesh", "Vegan Leather"],
    "Hiking Boots": ["Leather", "Gore-Tex", "Suede"],
    "Sneakers": ["Leather", "Canvas", "Vegan Leather", "Suede", "Knit"],
    "Chelsea Boots": ["Leather", "Suede", "Vegan Leather"],
    "Sandals": ["Leather", "Cork", "Rubber", "Vegan Leather"],
    "Slippers": ["Wool Felt", "Sheepskin", "Organic Cotton"],
    "Rain Boots": ["Rubber", "Natural Rubber"],
    "Loafers": ["Leather", "Suede", "Vegan Leather"],
    # sports
    "Yoga Mat": ["Natural Rubber", "Cork", "TPE"],
    "Dumbbell Set": ["Cast Iron", "Neoprene-Coated", "Steel"],
    "Kettlebell": ["Cast Iron", "Steel", "Vinyl-Coated"],
    "Resistance Bands": ["Natural Latex", "TPE", "Fabric"],
    "Jump Rope": ["Steel Cable", "PVC", "Aluminium"],
    "Bike Helmet": ["MIPS", "Carbon", "In-Mould"],
    "Tennis Racket": ["Carbon", "Graphite", "Aluminium"],
    "Football": ["Hybrid-Stitched", "Thermo-Bonded"],
    "Foam Roller": ["EVA", "Cork", "Textured", "Vibrating"],
    "Swim Goggles": ["Anti-Fog", "Silicone", "Polarised"],
    "Chalk Bag": ["Cotton Canvas", "Recycled Polyester", "Cork"],
    "Gym Bag": ["Recycled Polyester", "Canvas", "Waterproof Nylon"],
    "Exercise Bike": ["Magnetic", "Smart", "Steel"],
    # office
    "Notebook": ["Recycled Paper", "Leather", "Linen-Bound"],
    "Desk Organiser": ["Walnut", "Oak", "Felt", "Bamboo", "Aluminium"],
    "Monitor Stand": ["Walnut", "Oak", "Bamboo", "Aluminium", "Steel"],
    "Fountain Pen": ["Brass", "Aluminium", "Resin", "Steel"],
    "Standing Desk": ["Oak", "Walnut", "Bamboo", "Steel"],
    "Office Chair": ["Mesh", "Leather", "Fabric"],
    "Desk Mat": ["Felt", "Leather", "Cork", "Vegan Leather"],
    "Filing Box": ["Recycled Cardboard", "Felt", "Oak"],
    "Planner": ["Recycled Paper", "Leather", "Linen-Bound"],
    "Pencil Set": ["Cedar", "Graphite", "Recycled"],
    "Laptop Sleeve": ["Felt", "Leather", "Recycled Polyester", "Waxed Canvas"],
    "Whiteboard": ["Magnetic", "Glass", "Aluminium-Framed"],
    "Paper Clips": ["Steel", "Brass", "Recycled"],
    # beauty
    "Toothbrush": ["Bamboo", "Charcoal Bristle", "Compostable"],
    # home-decor
    "Cushion Cover": ["Linen", "Velvet", "Wool", "Organic Cotton"],
    "Throw Blanket": ["Wool", "Organic Cotton", "Linen", "Alpaca"],
    "Vase": ["Stoneware", "Glass", "Marble", "Brass"],
    "Table Lamp": ["Brass", "Rattan", "Stoneware", "Oak", "Marble"],
    "Wall Mirror": ["Brass", "Oak", "Rattan"],
    "Scented Candle": ["Soy Wax", "Beeswax", "Rapeseed Wax"],
    "Rug": ["Wool", "Jute", "Organic Cotton"],
    "Picture Frame": ["Oak", "Brass", "Walnut"],
    "Storage Basket": ["Rattan", "Jute", "Seagrass", "Felt"],
    "Wall Clock": ["Oak", "Brass", "Marble"],
    "Plant Pot": ["Stoneware", "Terracotta", "Marble"],
    "Curtains": ["Linen", "Velvet", "Organic Cotton"],
}

LIQUID = ["a recyclable glass bottle", "a paraben-free formula", "organic ingredients",
          "a light, non-greasy texture"]
PANS = ["induction compatibility", "oven safety up to 260 degrees", "a riveted stay-cool handle",
        "even heat distribution", "a pouring lip"]
BATTERY = ["USB-C charging", "up to 30 hours of battery life", "a fast-charge mode"]
AUDIO = ["Bluetooth 5.3", "a low-latency mode", "multipoint pairing", "an IPX5 splash-proof rating"]
# Selling points that only make sense for a particular noun; one of them is
# always used when present, the second point may come from the category list.
NOUN_FEATURES = {
    "Skillet": PANS + ["a pre-seasoned surface"], "Dutch Oven": PANS + ["a self-basting lid"],
    "Saucepan": PANS + ["a glass lid"], "Wok": PANS + ["a pre-seasoned surface"],
    "Chef's Knife": ["a full-tang blade", "a hand-sharpened 15-degree edge", "a balanced handle"],
    "French Press": ["a double mesh filter", "a heat-resistant handle"],
    "Teapot": ["a removable infuser", "a drip-free spout"],
    "Food Storage Containers": ["airtight lids", "freezer-safe materials"],
    "Planter": ["drainage holes", "frost-proof construction"],
    "Plant Pot": ["a drainage hole", "a matching saucer"],
    "Pruning Shears": ["a replaceable blade", "a safety lock"],
    "Trowel": ["depth markings", "a hanging loop for storage"],
    "Rake": ["a hanging loop for storage", "a cushioned grip"],
    "Garden Hose": ["brass fittings", "a kink-free design"],
    "Raised Bed": ["tool-free assembly", "a protective liner"],
    "Compost Bin": ["ventilation slots", "a hatch for easy emptying"],
    "Watering Can": ["a detachable rose", "a balanced handle"],
    "Garden Light": ["an automatic dusk sensor", "up to 8 hours of light"],
    "Tent": ["taped seams", "reflective guy lines", "a DWR coating", "two vestibules"],
    "Sleeping Bag": ["a compression stuff sack", "a draft collar", "a two-way zip"],
    "Backpack": ["YKK zips", "hip-belt pockets", "an integrated rain cover"],
    "Headlamp": ["USB-C charging", "a red night mode", "a tilting head"],
    "Rain Tarp": ["reinforced tie-out points", "a DWR coating"],
    "Dry Bag": ["a roll-top closure", "welded seams"],
    "Headphones": AUDIO + BATTERY, "Earbuds": AUDIO + BATTERY, "Speaker": AUDIO + BATTERY,
    "Soundbar": ["Bluetooth 5.3", "an HDMI eARC port", "a dialogue enhancement mode"],
    "Power Bank": ["USB-C Power Delivery", "a battery level display", "pass-through charging"],
    "Charger": ["USB-C Power Delivery", "foldable plug pins", "over-heat protection"],
    "Smartwatch": BATTERY + ["heart-rate tracking", "built-in GPS"],
    "E-Reader": ["an adjustable warm light", "weeks of battery life", "a glare-free screen"],
    "Action Camera": ["image stabilisation", "a waterproof housing"] + BATTERY,
    "Laptop": ["all-day battery life", "a backlit keyboard", "two USB-C ports"],
    "Monitor": ["a height-adjustable stand", "a USB-C port with 65 W charging", "a flicker-free panel"],
    "Teddy Bear": ["organic cotton stuffing", "embroidered eyes"],
    "Building Blocks": ["non-toxic water-based paints", "a storage bag"],
    "Train Set": ["non-toxic water-based paints", "compatible tracks"],
    "Kite": ["a 30 m line", "a carry bag"],
    "Notebook": ["acid-free paper", "a lay-flat binding", "numbered pages"],
    "Planner": ["acid-free paper", "a lay-flat binding", "a ribbon bookmark"],
    "Standing Desk": ["electric height adjustment", "memory presets", "cable management"],
    "Office Chair": ["height adjustment", "adjustable lumbar support", "breathable upholstery"],
    "Fountain Pen": ["a refillable converter", "a polished steel nib"],
    "Monitor Stand": ["cable management", "a storage shelf"],
    "Face Serum": LIQUID, "Moisturiser": LIQUID, "Shampoo": LIQUID, "Conditioner": LIQUID,
    "Hand Cream": LIQUID, "Body Wash": LIQUID, "Sunscreen SPF 50": LIQUID, "Face Mask": LIQUID,
    "Toothbrush": ["a compostable bamboo handle", "BPA-free bristles"],
    "Cushion Cover": ["a hidden zip", "natural dyes"],
    "Throw Blanket": ["natural dyes", "fringed edges"], "Rug": ["natural dyes", "an anti-slip underlay"],
    "Curtains": ["natural dyes", "a ring top", "a blackout lining"],
    "Vase": ["felt pads to protect surfaces", "a watertight glaze"],
    "Table Lamp": ["an E27 socket", "felt pads to protect surfaces", "a fabric cable"],
    "Wall Clock": ["a silent sweep movement", "a ready-to-hang fixing"],
    "Wall Mirror": ["a ready-to-hang fixing", "bevelled glass"],
    "Picture Frame": ["a ready-to-hang fixing", "shatter-proof acrylic glazing"],
    "Scented Candle": ["a cotton wick", "a 45-hour burn time", "natural essential oils"],
}
BATTERY_NOUNS = {"Headphones", "Earbuds", "Speaker", "Power Bank", "Smartwatch", "E-Reader",
                 "Action Camera", "Laptop", "Headlamp", "Exercise Bike"}
WOOD_WORDS = ("Wood", "Wooden", "Bamboo", "Oak", "Walnut", "Teak", "Beech", "Beechwood", "Cedar",
              "Larch", "Acacia")
DELICATE_WORDS = ("Wool", "Merino", "Cashmere", "Alpaca", "Silk", "Velvet", "Sheepskin")


def care_for(rng: random.Random, slug: str, cat: dict, mat: str, noun: str):
    """A care sentence that fits the material, or None."""
    words = mat.replace("-", " ").split()
    if slug != "beauty" and any(w in WOOD_WORDS for w in words):
        return rng.choice([CARE["oil"], CARE["wipe"]])
    if slug == "kitchen" and mat in ("Cast Iron", "Carbon Steel"):
        return "Hand wash, dry immediately and oil lightly to keep the seasoning."
    if any(w in DELICATE_WORDS for w in words):
        return "Hand wash cold or dry clean."
    if noun in BATTERY_NOUNS:
        return rng.choice([CARE["charge"], CARE["dry"]])
    if slug == "kitchen" and mat in ("Copper", "Enamelled"):
        return CARE["hand"]
    if not cat["care"]:
        return None
    return CARE[rng.choice(cat["care"])]


# Variants that do not imply a different price (sizes of clothes, colours...).
NO_PRICE_NUDGE = {"apparel", "footwear"}

SERIES = ["II", "Pro", "Classic", "Lite", "Plus", "Heritage", "Studio", "Signature"]
FIRST_NAMES = ["Anna", "Lukas", "Sofia", "Mateo", "Ingrid", "Jonas", "Clara", "Elias",
               "Marta", "Henrik", "Lea", "Tomas", "Nora", "Pieter", "Elena", "Oskar"]
LAST_NAMES = ["Keller", "Lindqvist", "Moreau", "Bianchi", "Novak", "de Vries", "Fischer",
              "Jansen", "Costa", "Nieminen", "Horvath", "Dubois", "Schmidt", "Andersen"]

DESC_OPENERS = [
    "{mat_l} {noun_l} from {brand}, made for {use}.",
    "Made for {use}, the {brand} {noun} {combines} {perk} design with everyday practicality.",
    "The {brand} {mat_l} {noun_l} {is_} built for {use}.",
    "{perk} {mat_l} {noun_l} by {brand}, perfect for {use}.",
    "Ideal for {use}: the {perk} {mat_l} {noun_l} from {brand}.",
]
DESC_MIDDLES = [
    "Key features: {f1} and {f2}.",
    "{it_is} {perk2} by design, with {f1} and {f2}.",
    "This {variant} version comes with {f1}.",
    "Thoughtful details include {f1} and {f2}.",
    "Expect {f1}, {f2} and {a_perk2} {perk2} build.",
]
BOOK_MIDDLES = [
    "This {variant_l} edition features {f1} and {f2}.",
    "Packed with {f1}, it is {a_perk2} {perk2} companion for curious readers.",
    "Highlights include {f1} and {f2}.",
    "{perk2} and thorough, with {f1}.",
]


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def round_price(rng: random.Random, euros: float) -> int:
    """Turn a price in euros into minor units with a realistic ending."""
    whole = int(euros)
    r = rng.random()
    if r < 0.62:
        cents = whole * 100 + 99 if whole >= 1 else 99
    elif r < 0.90:
        cents = whole * 100 + 49 if whole >= 1 else 149
    elif r < 0.96:
        cents = max(1, whole) * 100 + 95
    else:
        cents = max(1, whole + 1) * 100
    return min(500000, max(99, cents))


def pick_stock(rng: random.Random) -> int:
    """Stock 0..=500, ~5% zero, skewed towards modest levels."""
    if rng.random() < 0.05:
        return 0
    return min(500, int(rng.expovariate(1 / 60.0)) + 1)


def allocate(count: int) -> dict:
    """Distribute `count` products across categories by weight (largest remainder)."""
    total_w = sum(c["weight"] for c in CATEGORIES.values())
    alloc, rema = {}, []
    for slug, c in CATEGORIES.items():
        exact = count * c["weight"] / total_w
        alloc[slug] = int(exact)
        rema.append((exact - int(exact), slug))
    rema.sort(key=lambda t: (-t[0], t[1]))
    for i in range(count - sum(alloc.values())):
        alloc[rema[i % len(rema)][1]] += 1
    return alloc


KEEP_CASE = {"Dolby", "Atmos", "Damascus", "Gore-Tex", "Vibram", "Cordura"}


def smart_lower(phrase: str) -> str:
    """Lower-case a material phrase for use mid-sentence, keeping acronyms."""
    out = []
    for w in phrase.split():
        parts = w.split("-")
        if w in KEEP_CASE or any(
                len(p) == 1 and p.isupper() or any(c.isupper() or c.isdigit() for c in p[1:])
                for p in parts):
            out.append(w)
        else:
            out.append(w.lower())
    return " ".join(out)


def is_plural(noun: str) -> bool:
    return noun.endswith("s") and not noun.endswith("ss")


def capitalise(s: str) -> str:
    return s[:1].upper() + s[1:]


def make_product(rng: random.Random, slug: str, cat: dict, seen_names: set) -> dict:
    for attempt in range(16):
        brand = rng.choice(cat["brands"])
        noun, variants, use, lo, hi = rng.choice(cat["nouns"])
        mat = rng.choice(NOUN_MATERIALS.get(noun, cat["materials"]))
        vidx = rng.randrange(len(variants))
        variant = variants[vidx]
        author = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if slug == "books":
            name = f"{mat} {noun} by {author} ({variant})"
        else:
            name = f"{brand} {mat} {noun} {variant}"
        if name not in seen_names:
            break
    else:
        name = f"{name} {rng.choice(SERIES)}"
    seen_names.add(name)

    specific = NOUN_FEATURES.get(noun, [])
    if specific:
        f1 = rng.choice(specific)
        f2 = rng.choice([f for f in specific + cat["features"] if f != f1])
    else:
        f1, f2 = rng.sample(cat["features"], 2)
    # Pick adjectives that do not repeat words already used in the text.
    used = f"{mat} {f1} {f2}".lower()
    perks = [w for w in cat["perks"] if w.split("-")[0] not in used] or cat["perks"]
    perk, perk2 = rng.sample(perks, 2) if len(perks) >= 2 else rng.sample(cat["perks"], 2)
    fields = dict(
        mat=mat, mat_l=smart_lower(mat), noun=noun, noun_l=smart_lower(noun), brand=brand,
        use=use, combines="combine" if is_plural(noun) else "combines",
        is_="are" if is_plural(noun) else "is", it_is="they are" if is_plural(noun) else "it is",
        perk=perk, perk2=perk2, a_perk2=article(perk2), f1=f1, f2=f2,
        variant=variant, variant_l=variant.lower(), author=author,
    )
    if slug == "books":
        sentences = [
            f"{mat} {noun} by {author}, published by {brand} and written for {use}.",
            rng.choice(BOOK_MIDDLES).format(**fields),
        ]
        if rng.random() < 0.4:
            sentences.append(rng.choice(CLOSERS[3:]))
    else:
        # "This M version ..." reads oddly for clothing sizes.
        middles = [m for m in DESC_MIDDLES if slug not in NO_PRICE_NUDGE or "{variant}" not in m]
        sentences = [rng.choice(DESC_OPENERS).format(**fields),
                     rng.choice(middles).format(**fields)]
        extra = rng.random()
        care = care_for(rng, slug, cat, mat, noun)
        if extra < 0.55 and care:
            sentences.append(care)
        elif extra < 0.8:
            sentences.append(rng.choice(CLOSERS))
    description = " ".join(capitalise(s) for s in sentences)

    # Log-uniform within the noun's price band, nudged up for larger variants
    # (variants are listed cheapest first).
    euros = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    if len(variants) > 1 and slug not in NO_PRICE_NUDGE:
        euros *= 1.0 + 0.25 * vidx / (len(variants) - 1)

    return {
        "name": name[:200],
        "description": description[:2000],
        "category": slug,
        "price_minor": round_price(rng, euros),
        "currency": "EUR",
        "stock": pick_stock(rng),
    }


def generate(count: int) -> list:
    rng = random.Random(SEED)
    alloc = allocate(count)
    products = []
    for slug, cat in CATEGORIES.items():
        seen_names: set = set()
        for i in range(1, alloc[slug] + 1):
            p = make_product(rng, slug, cat, seen_names)
            products.append({"id": f"{slug}-{i:05d}", **p})
    products.sort(key=lambda p: p["id"])
    return products


def main() -> int:
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description="Generate the demo product catalogue (JSONL).")
    ap.add_argument("--count", type=int, default=3000, help="number of products (default 3000)")
    ap.add_argument("--out", default=os.path.join(repo_root, "demo", "catalog.jsonl"),
                    help="output path (default: <repo>/demo/catalog.jsonl)")
    args = ap.parse_args()
    if args.count < 0:
        ap.error("--count must be >= 0")

    products = generate(args.count)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for p in products:
            f.write(json.dumps(p, ensure_ascii=False, separators=(",", ":")) + "\n")

    cats = len({p["category"] for p in products})
    print(f"gen-demo-catalog: wrote {len(products)} products in {cats} categories "
          f"to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
